//! Episode datasets: one safetensors shard per episode plus a JSON index.
//!
//! ```text
//! DIR/dataset.json                   the index: scene, spaces, frame size, episodes
//! DIR/episodes/000000.safetensors    one episode of T steps:
//!     frames   u8  [T+1, H, W, 3]    camera frames, RGB, frame t shows state t
//!     actions  f32 [T, A]            action t leads from state t to state t+1
//!     proprio  f32 [T+1, P]
//!     state    f32 [T+1, S]          privileged simulator state
//!     rewards  f32 [T]               reward t follows action t
//!     success  u8  [T+1]             1 where every task target is within tolerance
//!     episode  i64 [T+1]             the episode's index in the dataset
//!     step     i64 [T+1]             0..=T
//! ```
//!
//! A shard's safetensors metadata holds one key, `prefrontal`: a JSON object with the
//! format version, scene, seed and policy.
//!
//! Shards and the index are written to a temporary name and renamed into place, so an
//! interrupted collection leaves a dataset whose index lists only complete shards. This
//! crate depends on neither Bevy nor Burn: the simulation writes datasets and the world
//! model reads them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Version of the on-disk layout; readers refuse other versions.
pub const FORMAT_VERSION: u32 = 1;

/// File name of the index inside a dataset folder.
pub const INDEX_FILE: &str = "dataset.json";

/// Folder of the shards inside a dataset folder.
pub const SHARD_DIR: &str = "episodes";

/// What every episode of a dataset shares: appending requires the same header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Name of the scene.
    pub scene: String,
    /// The scene file's full text, so that the dataset describes itself.
    pub scene_source: String,
    /// Control steps per simulated second.
    pub control_hz: f32,
    /// Camera frames.
    pub frame: FrameInfo,
    /// The action space.
    pub action: SpaceInfo,
    /// Names of the proprioception components.
    pub proprio_names: Vec<String>,
    /// Names of the privileged-state components.
    pub state_names: Vec<String>,
}

/// Size and source of the frames.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrameInfo {
    /// The scene camera they were rendered from.
    pub camera: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// A box action space.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpaceInfo {
    /// Component names.
    pub names: Vec<String>,
    /// Lower bounds.
    pub low: Vec<f32>,
    /// Upper bounds.
    pub high: Vec<f32>,
}

/// One episode's entry in the index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EpisodeEntry {
    /// The episode's index in the dataset.
    pub index: u64,
    /// Shard path relative to the dataset folder.
    pub shard: String,
    /// The seed its start and goal were sampled from.
    pub seed: u64,
    /// Number of actions T (the shard holds T+1 frames).
    pub steps: usize,
    /// The policy that acted.
    pub policy: String,
    /// Whether the episode ended at its goal.
    pub success: bool,
    /// SHA-256 (hex) of the shard file, checked on every read; empty in datasets written
    /// before it was recorded.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sha256: String,
}

/// The index file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Index {
    /// Layout version, `FORMAT_VERSION`.
    pub format_version: u32,
    /// What all episodes share.
    pub header: Header,
    /// Episodes in index order.
    pub episodes: Vec<EpisodeEntry>,
}

impl Index {
    /// SHA-256 (hex) of the header and the first `episodes` entries of the index: equal
    /// digests mean the same scene text, spaces and frame size, and the same episodes (index,
    /// seed, length, policy and, through each entry's `sha256`, shard contents) in order.
    pub fn digest(&self, episodes: usize) -> String {
        let entries = &self.episodes[..episodes.min(self.episodes.len())];
        let mut bytes = serde_json::to_vec(&self.header).expect("the header serialises");
        bytes.extend(serde_json::to_vec(entries).expect("the entries serialise"));
        sha256_hex(&bytes)
    }
}

/// SHA-256 of `bytes` as lowercase hex.
fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// One episode in memory; the shapes are those of the shard (see the crate docs).
#[derive(Debug, Clone, PartialEq)]
pub struct Episode {
    /// `u8 [T+1, H, W, 3]`.
    pub frames: Vec<u8>,
    /// `f32 [T, A]`.
    pub actions: Vec<f32>,
    /// `f32 [T+1, P]`.
    pub proprio: Vec<f32>,
    /// `f32 [T+1, S]`.
    pub state: Vec<f32>,
    /// `f32 [T]`.
    pub rewards: Vec<f32>,
    /// `u8 [T+1]`.
    pub success: Vec<u8>,
}

impl Episode {
    /// An empty episode, to be filled one step at a time.
    pub fn new() -> Self {
        Self {
            frames: Vec::new(),
            actions: Vec::new(),
            proprio: Vec::new(),
            state: Vec::new(),
            rewards: Vec::new(),
            success: Vec::new(),
        }
    }

    /// Number of actions T.
    pub fn steps(&self) -> usize {
        self.rewards.len()
    }
}

impl Default for Episode {
    fn default() -> Self {
        Self::new()
    }
}

/// Why a dataset operation failed. Every variant names the file concerned.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The index is missing, unreadable or of another format version.
    #[error("{}: {message}", path.display())]
    Index {
        /// The index file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A shard is missing, truncated, corrupt, or disagrees with the index.
    #[error("{}: {message}", path.display())]
    Shard {
        /// The shard file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Appending episodes that do not match the dataset.
    #[error("{}: cannot append: {message}", path.display())]
    Mismatch {
        /// The dataset folder.
        path: PathBuf,
        /// Which part differs, with both values.
        message: String,
    },
    /// An episode's arrays disagree with the header.
    #[error("episode {index}: {message}")]
    Shape {
        /// The episode's index.
        index: u64,
        /// What is wrong.
        message: String,
    },
}

/// A dataset folder: its index, and shards read on demand.
#[derive(Debug)]
pub struct Dataset {
    dir: PathBuf,
    index: Index,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DatasetError + '_ {
    move |source| DatasetError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), DatasetError> {
    let temporary = path.with_extension("partial");
    std::fs::write(&temporary, bytes).map_err(io(&temporary))?;
    std::fs::rename(&temporary, path).map_err(io(path))
}

impl Dataset {
    /// Opens an existing dataset (its index only; shards are read on demand).
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, DatasetError> {
        let dir = dir.as_ref().to_owned();
        let path = dir.join(INDEX_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => DatasetError::Index {
                path: path.clone(),
                message: "no dataset index here (is this a dataset folder?)".into(),
            },
            _ => DatasetError::Io {
                path: path.clone(),
                source,
            },
        })?;
        let index: Index = serde_json::from_str(&text).map_err(|e| DatasetError::Index {
            path: path.clone(),
            message: format!("line {} column {}: {e}", e.line(), e.column()),
        })?;
        if index.format_version != FORMAT_VERSION {
            return Err(DatasetError::Index {
                path,
                message: format!(
                    "format version {} is not the supported {FORMAT_VERSION}",
                    index.format_version
                ),
            });
        }
        Ok(Self { dir, index })
    }

    /// Opens the dataset in `dir` for appending episodes with `header`, creating it when
    /// the folder holds none. Refuses a dataset whose header differs.
    pub fn create_or_append(dir: impl AsRef<Path>, header: Header) -> Result<Self, DatasetError> {
        let dir = dir.as_ref().to_owned();
        if dir.join(INDEX_FILE).exists() {
            let dataset = Self::open(&dir)?;
            check_same(&dir, &dataset.index.header, &header)?;
            return Ok(dataset);
        }
        let shards = dir.join(SHARD_DIR);
        std::fs::create_dir_all(&shards).map_err(io(&shards))?;
        let dataset = Self {
            dir,
            index: Index {
                format_version: FORMAT_VERSION,
                header,
                episodes: Vec::new(),
            },
        };
        dataset.write_index()?;
        Ok(dataset)
    }

    /// The dataset folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The index.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// The index the next appended episode gets.
    pub fn next_episode_index(&self) -> u64 {
        self.index.episodes.last().map_or(0, |e| e.index + 1)
    }

    fn write_index(&self) -> Result<(), DatasetError> {
        let text = serde_json::to_string_pretty(&self.index).expect("the index serialises");
        write_atomically(&self.dir.join(INDEX_FILE), text.as_bytes())
    }

    /// Path of a shard named in the index.
    pub fn shard_path(&self, entry: &EpisodeEntry) -> PathBuf {
        self.dir.join(&entry.shard)
    }

    /// Writes one episode as a shard and records it in the index. Episodes may arrive in
    /// any order; the index keeps them sorted by `index`.
    pub fn write_episode(
        &mut self,
        index: u64,
        seed: u64,
        policy: &str,
        episode: &Episode,
    ) -> Result<&EpisodeEntry, DatasetError> {
        let header = &self.index.header;
        let shape = shapes(header, episode.steps());
        let lengths = [
            episode.frames.len(),
            episode.actions.len(),
            episode.proprio.len(),
            episode.state.len(),
            episode.rewards.len(),
            episode.success.len(),
        ];
        for ((name, _, dims), got) in shape.iter().zip(lengths) {
            let expected: usize = dims.iter().product();
            if got != expected {
                return Err(DatasetError::Shape {
                    index,
                    message: format!("{name} has {got} values, expected {dims:?} = {expected}"),
                });
            }
        }
        let steps = episode.steps();
        let counter: Vec<i64> = (0..=steps as i64).collect();
        let episode_column = vec![index as i64; steps + 1];
        let bytes_f32 = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let bytes_i64 = |v: &[i64]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let buffers: [Vec<u8>; 8] = [
            episode.frames.clone(),
            bytes_f32(&episode.actions),
            bytes_f32(&episode.proprio),
            bytes_f32(&episode.state),
            bytes_f32(&episode.rewards),
            episode.success.clone(),
            bytes_i64(&episode_column),
            bytes_i64(&counter),
        ];
        let mut views = Vec::with_capacity(8);
        for ((name, dtype, dims), data) in shape.iter().zip(&buffers) {
            let view = TensorView::new(*dtype, dims.clone(), data).expect("shapes checked above");
            views.push((name.to_string(), view));
        }
        // One metadata key holding a JSON object: safetensors writes its metadata map in
        // hash order, and a single key keeps shards byte-identical across runs.
        let description = serde_json::json!({
            "format_version": FORMAT_VERSION,
            "scene": header.scene,
            "seed": seed,
            "policy": policy,
        });
        let metadata = HashMap::from([("prefrontal".to_owned(), description.to_string())]);
        let shard = format!("{SHARD_DIR}/{index:06}.safetensors");
        let path = self.dir.join(&shard);
        let bytes =
            safetensors::serialize(views, Some(metadata)).map_err(|e| DatasetError::Shard {
                path: path.clone(),
                message: e.to_string(),
            })?;
        write_atomically(&path, &bytes)?;
        let entry = EpisodeEntry {
            index,
            shard,
            seed,
            steps,
            policy: policy.to_owned(),
            success: episode.success.last() == Some(&1),
            sha256: sha256_hex(&bytes),
        };
        let at = self.index.episodes.partition_point(|e| e.index < index);
        self.index.episodes.insert(at, entry);
        self.write_index()?;
        Ok(&self.index.episodes[at])
    }

    /// Reads episode `position` of the index, checking every array against the header.
    pub fn read_episode(&self, position: usize) -> Result<Episode, DatasetError> {
        let entry = &self.index.episodes[position];
        let path = self.shard_path(entry);
        let bad = |message: String| DatasetError::Shard {
            path: path.clone(),
            message,
        };
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        let tensors = SafeTensors::deserialize(&bytes)
            .map_err(|e| bad(format!("not a readable safetensors file: {e}")))?;
        let mut arrays = Vec::with_capacity(8);
        for (name, dtype, dims) in shapes(&self.index.header, entry.steps) {
            let view = tensors
                .tensor(name)
                .map_err(|_| bad(format!("has no tensor \"{name}\"")))?;
            if view.dtype() != dtype || view.shape() != dims.as_slice() {
                return Err(bad(format!(
                    "tensor \"{name}\" is {:?} {:?}, the index expects {dtype:?} {dims:?}",
                    view.dtype(),
                    view.shape()
                )));
            }
            arrays.push(view.data().to_vec());
        }
        // Values changed in place keep the layout valid; only the digest notices them.
        if !entry.sha256.is_empty() && sha256_hex(&bytes) != entry.sha256 {
            return Err(bad(format!(
                "its SHA-256 is not the one the index recorded for episode {}: the file was changed or damaged after it was written",
                entry.index
            )));
        }
        let floats = |b: &[u8]| -> Vec<f32> {
            b.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        };
        Ok(Episode {
            frames: arrays[0].clone(),
            actions: floats(&arrays[1]),
            proprio: floats(&arrays[2]),
            state: floats(&arrays[3]),
            rewards: floats(&arrays[4]),
            success: arrays[5].clone(),
        })
    }
}

/// Names, dtypes and shapes of a shard's tensors for an episode of `steps` actions.
fn shapes(header: &Header, steps: usize) -> Vec<(&'static str, Dtype, Vec<usize>)> {
    let (h, w) = (header.frame.height as usize, header.frame.width as usize);
    vec![
        ("frames", Dtype::U8, vec![steps + 1, h, w, 3]),
        (
            "actions",
            Dtype::F32,
            vec![steps, header.action.names.len()],
        ),
        (
            "proprio",
            Dtype::F32,
            vec![steps + 1, header.proprio_names.len()],
        ),
        (
            "state",
            Dtype::F32,
            vec![steps + 1, header.state_names.len()],
        ),
        ("rewards", Dtype::F32, vec![steps]),
        ("success", Dtype::U8, vec![steps + 1]),
        ("episode", Dtype::I64, vec![steps + 1]),
        ("step", Dtype::I64, vec![steps + 1]),
    ]
}

fn check_same(dir: &Path, existing: &Header, new: &Header) -> Result<(), DatasetError> {
    let mismatch = |message: String| {
        Err(DatasetError::Mismatch {
            path: dir.to_owned(),
            message,
        })
    };
    if existing.scene != new.scene || existing.scene_source != new.scene_source {
        return mismatch(format!(
            "the dataset holds scene \"{}\"{}, this collection uses scene \"{}\"",
            existing.scene,
            if existing.scene == new.scene {
                " with a different scene file"
            } else {
                ""
            },
            new.scene
        ));
    }
    if existing.frame != new.frame {
        return mismatch(format!(
            "the dataset holds {}×{} frames from camera \"{}\", this collection renders {}×{} from \"{}\"",
            existing.frame.width,
            existing.frame.height,
            existing.frame.camera,
            new.frame.width,
            new.frame.height,
            new.frame.camera
        ));
    }
    if existing != new {
        return mismatch("the action space, observation names or control rate differ".into());
    }
    Ok(())
}

/// Running mean, standard deviation, minimum and maximum of each component of a vector.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentStats {
    /// Values seen per component.
    pub count: u64,
    /// Mean per component.
    pub mean: Vec<f64>,
    /// Sum of squared deviations per component (Welford).
    m2: Vec<f64>,
    /// Minimum per component.
    pub min: Vec<f32>,
    /// Maximum per component.
    pub max: Vec<f32>,
}

impl ComponentStats {
    /// Statistics of `dim`-component vectors, none seen yet.
    pub fn new(dim: usize) -> Self {
        Self {
            count: 0,
            mean: vec![0.0; dim],
            m2: vec![0.0; dim],
            min: vec![f32::INFINITY; dim],
            max: vec![f32::NEG_INFINITY; dim],
        }
    }

    /// Adds every row of a row-major `[rows, dim]` array.
    pub fn add_rows(&mut self, values: &[f32]) {
        let dim = self.mean.len();
        for row in values.chunks_exact(dim) {
            self.count += 1;
            for (i, &x) in row.iter().enumerate() {
                let delta = f64::from(x) - self.mean[i];
                self.mean[i] += delta / self.count as f64;
                self.m2[i] += delta * (f64::from(x) - self.mean[i]);
                self.min[i] = self.min[i].min(x);
                self.max[i] = self.max[i].max(x);
            }
        }
    }

    /// Population standard deviation per component.
    pub fn std(&self) -> Vec<f64> {
        self.m2
            .iter()
            .map(|m2| (m2 / self.count.max(1) as f64).sqrt())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(scene: &str, width: u32) -> Header {
        Header {
            scene: scene.into(),
            scene_source: format!("(name: \"{scene}\")"),
            control_hz: 10.0,
            frame: FrameInfo {
                camera: "top".into(),
                width,
                height: 4,
            },
            action: SpaceInfo {
                names: vec!["a.x".into(), "a.z".into()],
                low: vec![-1.0; 2],
                high: vec![1.0; 2],
            },
            proprio_names: vec!["p".into()],
            state_names: vec!["s0".into(), "s1".into(), "s2".into()],
        }
    }

    fn episode(steps: usize, width: usize, salt: u8) -> Episode {
        let frames = (0..(steps + 1) * 4 * width * 3)
            .map(|i| (i as u8).wrapping_mul(7).wrapping_add(salt))
            .collect();
        let floats = |n: usize, k: f32| (0..n).map(|i| i as f32 * k + f32::from(salt)).collect();
        Episode {
            frames,
            actions: floats(steps * 2, 0.25),
            proprio: floats(steps + 1, 0.5),
            state: floats((steps + 1) * 3, -1.5),
            rewards: floats(steps, -0.1),
            success: (0..=steps).map(|t| u8::from(t == steps)).collect(),
        }
    }

    /// A new dataset of three 4-step episodes, each with its own values.
    fn three_episodes() -> (tempfile::TempDir, Dataset) {
        let dir = tempfile::tempdir().unwrap();
        let mut dataset = Dataset::create_or_append(dir.path(), header("reach", 5)).unwrap();
        for i in 0..3 {
            dataset
                .write_episode(i, i, "random", &episode(4, 5, i as u8))
                .unwrap();
        }
        (dir, dataset)
    }

    #[test]
    fn episodes_round_trip_in_index_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut dataset = Dataset::create_or_append(dir.path(), header("reach", 5)).unwrap();
        let (a, b) = (episode(3, 5, 1), episode(6, 5, 2));
        // Written out of order, listed in order.
        dataset.write_episode(1, 11, "random", &b).unwrap();
        dataset.write_episode(0, 10, "random", &a).unwrap();
        let reopened = Dataset::open(dir.path()).unwrap();
        let entries = &reopened.index().episodes;
        assert_eq!(entries.iter().map(|e| e.index).collect::<Vec<_>>(), [0, 1]);
        assert_eq!(
            (entries[0].steps, entries[0].seed, entries[0].success),
            (3, 10, true)
        );
        assert_eq!(reopened.read_episode(0).unwrap(), a);
        assert_eq!(reopened.read_episode(1).unwrap(), b);
        assert_eq!(reopened.next_episode_index(), 2);
    }

    #[test]
    fn wrong_shapes_are_refused_before_writing() {
        let dir = tempfile::tempdir().unwrap();
        let mut dataset = Dataset::create_or_append(dir.path(), header("reach", 5)).unwrap();
        let mut bad = episode(3, 5, 0);
        bad.actions.pop();
        let err = dataset.write_episode(0, 0, "random", &bad).unwrap_err();
        assert!(err.to_string().contains("actions has 5 values"), "{err}");
        assert!(dataset.index().episodes.is_empty());
    }

    #[test]
    fn a_damaged_shard_is_named_and_the_rest_stays_readable() {
        let (_dir, dataset) = three_episodes();
        let shard = |i: usize| dataset.shard_path(&dataset.index().episodes[i]);
        // Truncate the first shard, scribble over the second's header.
        let bytes = std::fs::read(shard(0)).unwrap();
        std::fs::write(shard(0), &bytes[..bytes.len() / 2]).unwrap();
        let mut bytes = std::fs::read(shard(1)).unwrap();
        bytes[10..20].fill(b'#');
        std::fs::write(shard(1), &bytes).unwrap();
        for i in 0..2 {
            let err = dataset.read_episode(i).unwrap_err().to_string();
            let name = shard(i).display().to_string();
            assert!(err.starts_with(&name), "{err}");
            assert!(err.contains("not a readable safetensors file"), "{err}");
        }
        assert_eq!(dataset.read_episode(2).unwrap(), episode(4, 5, 2));
        // A missing shard is named too.
        std::fs::remove_file(shard(2)).unwrap();
        let err = dataset.read_episode(2).unwrap_err().to_string();
        assert!(err.starts_with(&shard(2).display().to_string()), "{err}");
    }

    #[test]
    fn a_shard_changed_in_place_fails_its_digest_and_old_indexes_without_one_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let mut dataset = Dataset::create_or_append(dir.path(), header("reach", 5)).unwrap();
        dataset
            .write_episode(0, 0, "random", &episode(4, 5, 0))
            .unwrap();
        let shard = dataset.shard_path(&dataset.index().episodes[0]);
        let mut bytes = std::fs::read(&shard).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&shard, &bytes).unwrap();
        let err = dataset.read_episode(0).unwrap_err().to_string();
        assert!(
            err.starts_with(&shard.display().to_string()) && err.contains("SHA-256"),
            "{err}"
        );
        // An index written before digests were recorded: the same shard reads, unchecked.
        let index = dir.path().join(INDEX_FILE);
        let text = std::fs::read_to_string(&index).unwrap();
        let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
        json["episodes"][0]
            .as_object_mut()
            .unwrap()
            .remove("sha256")
            .expect("new indexes record the digest");
        std::fs::write(&index, json.to_string()).unwrap();
        let old = Dataset::open(dir.path()).unwrap();
        assert_eq!(old.read_episode(0).unwrap().success.len(), 5);
    }

    #[test]
    fn the_index_digest_covers_the_header_and_each_prefix_of_episodes() {
        let (_dir, mut dataset) = three_episodes();
        let index = dataset.index().clone();
        let two = index.digest(2);
        assert_ne!(two, index.digest(3));
        // Appending keeps every prefix's digest; another episode 1 changes it.
        dataset
            .write_episode(3, 3, "random", &episode(4, 5, 3))
            .unwrap();
        assert_eq!(dataset.index().digest(2), two);
        let other = tempfile::tempdir().unwrap();
        let mut changed = Dataset::create_or_append(other.path(), header("reach", 5)).unwrap();
        changed
            .write_episode(0, 0, "random", &episode(4, 5, 0))
            .unwrap();
        changed
            .write_episode(1, 1, "random", &episode(4, 5, 9))
            .unwrap();
        assert_ne!(
            changed.index().digest(2),
            two,
            "same entries, other contents"
        );
        let mut renamed = index.clone();
        renamed.header.scene_source.push(' ');
        assert_ne!(renamed.digest(2), two, "the header counts");
    }

    #[test]
    fn appending_another_scene_or_frame_size_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        Dataset::create_or_append(dir.path(), header("reach", 5)).unwrap();
        let err = Dataset::create_or_append(dir.path(), header("push", 5)).unwrap_err();
        assert!(
            err.to_string()
                .contains("cannot append: the dataset holds scene \"reach\""),
            "{err}"
        );
        let err = Dataset::create_or_append(dir.path(), header("reach", 8)).unwrap_err();
        assert!(err.to_string().contains("5×4 frames"), "{err}");
        assert!(Dataset::create_or_append(dir.path(), header("reach", 5)).is_ok());
    }

    #[test]
    fn a_broken_or_foreign_index_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = Dataset::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("no dataset index here"), "{err}");
        std::fs::write(dir.path().join(INDEX_FILE), "{\"format_version\": 1,").unwrap();
        let err = Dataset::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains(INDEX_FILE) && err.contains("line 1"), "{err}");
    }

    #[test]
    fn component_statistics_match_direct_computation() {
        let mut stats = ComponentStats::new(2);
        stats.add_rows(&[1.0, 10.0, 3.0, 20.0, 5.0, 60.0]);
        assert_eq!(stats.count, 3);
        assert!((stats.mean[0] - 3.0).abs() < 1e-12 && (stats.mean[1] - 30.0).abs() < 1e-12);
        let std = stats.std();
        assert!((std[0] - (8.0_f64 / 3.0).sqrt()).abs() < 1e-9);
        assert_eq!((stats.min[1], stats.max[1]), (10.0, 60.0));
    }
}
