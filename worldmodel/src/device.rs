//! Which Burn backend a model runs on.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where tensors live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum DeviceKind {
    /// Burn's `flex` CPU backend (always built).
    #[default]
    Cpu,
    /// NVIDIA GPU through burn-cuda (cargo feature `cuda`).
    Cuda,
    /// Any GPU through wgpu (cargo feature `wgpu`).
    Wgpu,
    /// PyTorch's C++ library on the CPU through burn-tch (cargo feature `libtorch`).
    LibTorch,
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeviceKind::Cpu => "cpu",
            DeviceKind::Cuda => "cuda",
            DeviceKind::Wgpu => "wgpu",
            DeviceKind::LibTorch => "libtorch",
        })
    }
}

impl FromStr for DeviceKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "cpu" => Ok(DeviceKind::Cpu),
            "cuda" => Ok(DeviceKind::Cuda),
            "wgpu" => Ok(DeviceKind::Wgpu),
            "libtorch" => Ok(DeviceKind::LibTorch),
            other => Err(format!(
                "unknown device `{other}`; expected cpu, cuda, wgpu or libtorch"
            )),
        }
    }
}

/// A backend and which of its devices: `cpu`, `cuda`, `cuda:1`, `wgpu`, `wgpu:0`, `libtorch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Device {
    /// The backend.
    pub kind: DeviceKind,
    /// The device's index among the backend's devices; `None` for the backend's default
    /// (CUDA device 0; wgpu's preferred adapter, which is lavapipe on a machine without a GPU).
    pub index: Option<usize>,
}

impl From<DeviceKind> for Device {
    fn from(kind: DeviceKind) -> Self {
        Device { kind, index: None }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(index) => write!(f, "{}:{index}", self.kind),
            None => write!(f, "{}", self.kind),
        }
    }
}

impl FromStr for Device {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (kind, index) = match text.split_once(':') {
            Some((kind, index)) => {
                let index = index.parse::<usize>().map_err(|_| {
                    format!("`{index}` in `{text}` is not a device index (cuda:0, cuda:1, …)")
                })?;
                (kind, Some(index))
            }
            None => (text, None),
        };
        let kind = kind.parse::<DeviceKind>()?;
        if matches!(kind, DeviceKind::Cpu | DeviceKind::LibTorch) && index.is_some() {
            return Err(format!(
                "the {kind} backend runs on the CPU, one device: `{kind}`, not `{text}`"
            ));
        }
        Ok(Device { kind, index })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_parse_with_an_optional_index_and_print_back() {
        for (text, kind, index) in [
            ("cpu", DeviceKind::Cpu, None),
            ("cuda", DeviceKind::Cuda, None),
            ("cuda:1", DeviceKind::Cuda, Some(1)),
            ("WGPU:0", DeviceKind::Wgpu, Some(0)),
            ("libtorch", DeviceKind::LibTorch, None),
        ] {
            let device: Device = text.parse().unwrap();
            assert_eq!(device, Device { kind, index }, "{text}");
            assert_eq!(device.to_string(), text.to_ascii_lowercase());
        }
        for (text, problem) in [
            (
                "cpu:0",
                "the cpu backend runs on the CPU, one device: `cpu`",
            ),
            ("libtorch:1", "one device: `libtorch`"),
            ("cuda:x", "is not a device index"),
            ("cuda:-1", "is not a device index"),
            ("tpu", "unknown device `tpu`"),
        ] {
            let error = text.parse::<Device>().unwrap_err();
            assert!(error.contains(problem), "{text}: {error}");
        }
    }
}
