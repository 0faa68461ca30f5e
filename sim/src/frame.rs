//! Camera frames as plain data, and their encodings (animated GIF).

/// An RGB camera image, row-major from the top-left pixel: `u8 [height, width, 3]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `height · width · 3` bytes.
    pub pixels: Vec<u8>,
}

/// Encodes `frames` (all of the first frame's size) as an endlessly looping animated GIF at
/// `hz` frames per second. After the first, each frame stores only the rectangle that
/// changed, over the frames before it: a mostly still scene costs little.
pub fn encode_gif(frames: impl IntoIterator<Item = Frame>, hz: f32) -> std::io::Result<Vec<u8>> {
    let mut frames = frames.into_iter().peekable();
    let Some(first) = frames.peek() else {
        return Ok(Vec::new());
    };
    let size = |v: u32| u16::try_from(v).map_err(|_| std::io::Error::other("GIF side over 65535"));
    let (width, height) = (first.width, first.height);
    let mut bytes = Vec::new();
    {
        let mut encoder = gif::Encoder::new(&mut bytes, size(width)?, size(height)?, &[])
            .map_err(std::io::Error::other)?;
        encoder
            .set_repeat(gif::Repeat::Infinite)
            .map_err(std::io::Error::other)?;
        let delay = (100.0 / hz.max(0.01)).round().clamp(1.0, 65535.0) as u16;
        let mut previous: Option<Frame> = None;
        for frame in frames {
            if (frame.width, frame.height) != (width, height)
                || frame.pixels.len() != (width * height * 3) as usize
            {
                return Err(std::io::Error::other(format!(
                    "GIF frames must all be {width}×{height} with 3 bytes per pixel"
                )));
            }
            let (x0, y0, x1, y1) = match &previous {
                Some(previous) => changed_rectangle(previous, &frame),
                None => (0, 0, width, height),
            };
            let mut rgba: Vec<u8> = (y0..y1)
                .flat_map(|y| {
                    let row = (y * width) as usize * 3;
                    frame.pixels[row + x0 as usize * 3..row + x1 as usize * 3]
                        .chunks_exact(3)
                        .flat_map(|p| [p[0], p[1], p[2], 255])
                        .collect::<Vec<u8>>()
                })
                .collect();
            let mut part =
                gif::Frame::from_rgba_speed(size(x1 - x0)?, size(y1 - y0)?, &mut rgba, 10);
            part.left = size(x0)?;
            part.top = size(y0)?;
            part.delay = delay;
            part.dispose = gif::DisposalMethod::Keep;
            encoder.write_frame(&part).map_err(std::io::Error::other)?;
            previous = Some(frame);
        }
    }
    Ok(bytes)
}

/// The smallest rectangle `(x0, y0, x1, y1)` (exclusive ends) holding every pixel in which
/// `a` and `b` (same size) differ; one pixel when none does.
fn changed_rectangle(a: &Frame, b: &Frame) -> (u32, u32, u32, u32) {
    let (mut x0, mut y0, mut x1, mut y1) = (a.width, a.height, 0, 0);
    for (i, (p, q)) in a
        .pixels
        .chunks_exact(3)
        .zip(b.pixels.chunks_exact(3))
        .enumerate()
    {
        if p != q {
            let (x, y) = (i as u32 % a.width, i as u32 / a.width);
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x + 1), y1.max(y + 1));
        }
    }
    if x1 == 0 {
        (0, 0, 1, 1)
    } else {
        (x0, y0, x1, y1)
    }
}

/// Writes `frames` as an endlessly looping animated GIF at `hz` frames per second.
pub fn write_gif(
    path: &std::path::Path,
    frames: impl IntoIterator<Item = Frame>,
    hz: f32,
) -> std::io::Result<()> {
    std::fs::write(path, encode_gif(frames, hz)?)
}

impl Frame {
    /// This frame and `right` of the same height side by side.
    pub fn beside(&self, right: &Frame) -> Frame {
        assert_eq!(
            self.height, right.height,
            "side-by-side frames share a height"
        );
        let (left_row, right_row) = (self.width as usize * 3, right.width as usize * 3);
        let mut pixels = Vec::with_capacity(self.pixels.len() + right.pixels.len());
        for (a, b) in self
            .pixels
            .chunks_exact(left_row)
            .zip(right.pixels.chunks_exact(right_row))
        {
            pixels.extend_from_slice(a);
            pixels.extend_from_slice(b);
        }
        Frame {
            width: self.width + right.width,
            height: self.height,
            pixels,
        }
    }

    /// The RGB value at column `x`, row `y`.
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = ((y * self.width + x) * 3) as usize;
        [self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]]
    }
}
