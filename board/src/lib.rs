//! TensorBoard event files that never panic: scalars, PNG images, animated GIFs, text and
//! HParams sessions, written synchronously so that every I/O error reaches the caller with
//! the file's name.
//!
//! tensorboard-rs supplies the TFRecord framing (`RecordWriter`, masked CRC32C) and the
//! protobuf messages (`tensorboard-proto`); its `SummaryWriter` writes on a background
//! thread that panics on I/O errors, so this crate builds the events itself.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use protobuf::well_known_types::Value;
use protobuf::{Message, RepeatedField};
use tensorboard_proto::api::Status;
use tensorboard_proto::event::{Event, SessionLog, SessionLog_SessionStatus};
use tensorboard_proto::plugin_hparams::{HParamsPluginData, SessionEndInfo, SessionStartInfo};
use tensorboard_proto::summary::{
    Summary, Summary_Image, Summary_Value, SummaryMetadata, SummaryMetadata_PluginData,
};
use tensorboard_proto::tensor::TensorProto;
use tensorboard_proto::tensor_shape::TensorShapeProto;
use tensorboard_proto::types::DataType;
use tensorboard_rs::record_writer::RecordWriter;

/// Why an event could not be written.
#[derive(Debug, thiserror::Error)]
pub enum BoardError {
    /// Creating the folder or writing the event file failed (disk full, folder removed, …).
    #[error("TensorBoard events {}: {source}", path.display())]
    Io {
        /// The event file or its folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An image could not be encoded.
    #[error("TensorBoard image {tag}: {message}")]
    Image {
        /// The summary's tag.
        tag: String,
        /// What went wrong.
        message: String,
    },
}

/// A hyper-parameter's value in an HParams session.
#[derive(Debug, Clone, PartialEq)]
pub enum HParam {
    /// A number.
    Number(f64),
    /// A string (enum variants, paths, lists).
    Text(String),
    /// A flag.
    Bool(bool),
}

/// One event file in a run folder (a TensorBoard "run").
pub struct Board {
    path: PathBuf,
    writer: RecordWriter<BufWriter<File>>,
}

impl std::fmt::Debug for Board {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Board").field("path", &self.path).finish()
    }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl Board {
    /// Creates `dir` if needed and a new event file in it (a unique name per writer, so
    /// resumed runs and several writers in one process never collide).
    pub fn create(dir: impl AsRef<Path>) -> Result<Board, BoardError> {
        static WRITERS: AtomicU64 = AtomicU64::new(0);
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|source| BoardError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let wall = now();
        let path = dir.join(format!(
            "events.out.tfevents.{:010}.prefrontal.{}.{}",
            wall as u64,
            std::process::id(),
            WRITERS.fetch_add(1, Ordering::Relaxed)
        ));
        let file = File::create(&path).map_err(|source| BoardError::Io {
            path: path.clone(),
            source,
        })?;
        let mut board = Board {
            path,
            writer: RecordWriter::new(BufWriter::new(file)),
        };
        let mut event = Event::new();
        event.set_wall_time(wall);
        event.set_file_version("brain.Event:2".to_owned());
        board.write(&event)?;
        board.flush()?;
        Ok(board)
    }

    /// The event file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self) -> impl FnOnce(std::io::Error) -> BoardError + '_ {
        move |source| BoardError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn write(&mut self, event: &Event) -> Result<(), BoardError> {
        let bytes = event
            .write_to_bytes()
            .map_err(|e| self.io()(std::io::Error::other(e)))?;
        self.writer.write(&bytes).map_err(self.io())
    }

    fn summary(&mut self, step: u64, value: Summary_Value) -> Result<(), BoardError> {
        let mut summary = Summary::new();
        summary.set_value(RepeatedField::from_vec(vec![value]));
        let mut event = event_at(step);
        event.set_summary(summary);
        self.write(&event)
    }

    /// Marks a restart at `step` (a resumed run): TensorBoard drops the events an earlier,
    /// interrupted writer logged from `step` on, so resumed curves have no duplicate points.
    pub fn restart(&mut self, step: u64) -> Result<(), BoardError> {
        let mut log = SessionLog::new();
        log.set_status(SessionLog_SessionStatus::START);
        let mut event = event_at(step);
        event.set_session_log(log);
        self.write(&event)
    }

    /// A scalar at `step`.
    pub fn scalar(&mut self, tag: &str, value: f64, step: u64) -> Result<(), BoardError> {
        let mut entry = Summary_Value::new();
        entry.set_tag(tag.to_owned());
        entry.set_simple_value(value as f32);
        self.summary(step, entry)
    }

    /// An RGB image (`pixels`: `[height, width, 3]` bytes), stored as PNG.
    pub fn image(
        &mut self,
        tag: &str,
        step: u64,
        width: u32,
        height: u32,
        pixels: &[u8],
    ) -> Result<(), BoardError> {
        let failed = |message: String| BoardError::Image {
            tag: tag.to_owned(),
            message,
        };
        let image = image::RgbImage::from_raw(width, height, pixels.to_vec()).ok_or_else(|| {
            failed(format!(
                "{} bytes are not a {width}×{height} RGB image",
                pixels.len()
            ))
        })?;
        let mut png = std::io::Cursor::new(Vec::new());
        image
            .write_to(&mut png, image::ImageFormat::Png)
            .map_err(|e| failed(e.to_string()))?;
        self.encoded_image(tag, step, width, height, png.into_inner())
    }

    /// An already encoded image (PNG, or a GIF, which TensorBoard's image tab animates).
    pub fn encoded_image(
        &mut self,
        tag: &str,
        step: u64,
        width: u32,
        height: u32,
        encoded: Vec<u8>,
    ) -> Result<(), BoardError> {
        let mut image = Summary_Image::new();
        image.set_width(width as i32);
        image.set_height(height as i32);
        image.set_colorspace(3);
        image.set_encoded_image_string(encoded);
        let mut entry = Summary_Value::new();
        entry.set_tag(tag.to_owned());
        entry.set_image(image);
        self.summary(step, entry)
    }

    /// A text summary (TensorBoard renders it as Markdown).
    pub fn text(&mut self, tag: &str, step: u64, markdown: &str) -> Result<(), BoardError> {
        let mut tensor = TensorProto::new();
        tensor.set_dtype(DataType::DT_STRING);
        tensor.set_tensor_shape(TensorShapeProto::new());
        tensor.set_string_val(RepeatedField::from_vec(vec![markdown.as_bytes().to_vec()]));
        let mut entry = Summary_Value::new();
        entry.set_tag(tag.to_owned());
        entry.set_metadata(plugin_metadata("text", Vec::new()));
        entry.set_tensor(tensor);
        self.summary(step, entry)
    }

    /// Starts an HParams session in this run: its hyper-parameters; the metrics are this
    /// run's scalars (TensorBoard takes each tag's last value).
    pub fn hparams_start(&mut self, hparams: &[(String, HParam)]) -> Result<(), BoardError> {
        let mut info = SessionStartInfo::new();
        let mut map = HashMap::new();
        for (name, value) in hparams {
            let mut proto = Value::new();
            match value {
                HParam::Number(x) => proto.set_number_value(*x),
                HParam::Text(s) => proto.set_string_value(s.clone()),
                HParam::Bool(b) => proto.set_bool_value(*b),
            }
            map.insert(name.clone(), proto);
        }
        info.set_hparams(map);
        info.set_start_time_secs(now());
        let mut data = HParamsPluginData::new();
        data.set_session_start_info(info);
        self.hparams_data("_hparams_/session_start_info", data)
    }

    /// Ends the HParams session: `success` false marks it failed.
    pub fn hparams_end(&mut self, success: bool) -> Result<(), BoardError> {
        let mut info = SessionEndInfo::new();
        info.set_status(if success {
            Status::STATUS_SUCCESS
        } else {
            Status::STATUS_FAILURE
        });
        info.set_end_time_secs(now());
        let mut data = HParamsPluginData::new();
        data.set_session_end_info(info);
        self.hparams_data("_hparams_/session_end_info", data)
    }

    fn hparams_data(&mut self, tag: &str, data: HParamsPluginData) -> Result<(), BoardError> {
        let content = data
            .write_to_bytes()
            .map_err(|e| self.io()(std::io::Error::other(e)))?;
        // TensorBoard reads HParams summaries as tensors; an empty float tensor stands in.
        let mut tensor = TensorProto::new();
        tensor.set_dtype(DataType::DT_FLOAT);
        tensor.set_tensor_shape(TensorShapeProto::new());
        tensor.set_float_val(vec![0.0]);
        let mut entry = Summary_Value::new();
        entry.set_tag(tag.to_owned());
        entry.set_metadata(plugin_metadata("hparams", content));
        entry.set_tensor(tensor);
        self.summary(0, entry)
    }

    /// Writes buffered events to the file.
    pub fn flush(&mut self) -> Result<(), BoardError> {
        self.writer.flush().map_err(self.io())?;
        // Writing to a file whose folder was removed succeeds on Unix and loses the events.
        if !self.path.exists() {
            return Err(self.io()(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the event file was removed while being written",
            )));
        }
        Ok(())
    }
}

impl Drop for Board {
    fn drop(&mut self) {
        // Callers flush (and hear about failures) where it matters; a last flush here keeps
        // whatever can still be written.
        let _ = self.writer.flush();
    }
}

/// An event at `step`, stamped now.
fn event_at(step: u64) -> Event {
    let mut event = Event::new();
    event.set_wall_time(now());
    event.set_step(step as i64);
    event
}

fn plugin_metadata(plugin: &str, content: Vec<u8>) -> SummaryMetadata {
    let mut data = SummaryMetadata_PluginData::new();
    data.set_plugin_name(plugin.to_owned());
    data.set_content(content);
    let mut metadata = SummaryMetadata::new();
    metadata.set_plugin_data(data);
    metadata
}
