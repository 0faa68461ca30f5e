//! Backend selection: a [`Device`] names a Burn backend and which of its devices; work
//! written once for every backend is a [`BackendTask`], and [`on_device`] runs it with the
//! types of the backend the device names. Adding a backend means a `DeviceKind` variant
//! (in `worldmodel`), a cargo feature and one arm in [`on_device`].

use burn::tensor::backend::AutodiffBackend;
use prefrontal_worldmodel::{Device, DeviceKind};

use crate::RuntimeError;

/// Work written once for every Burn backend, e.g. training or evaluation.
pub trait BackendTask {
    /// What the work returns (usually a `Result`).
    type Output;

    /// Runs the work with autodiff backend `B` on `device`.
    fn run<B: AutodiffBackend>(self, device: &B::Device) -> Self::Output;
}

/// The device names a backend this build was compiled without.
#[derive(Debug, thiserror::Error)]
#[error(
    "this binary was built without the {kind} backend; rebuild with `cargo build --release --features {kind}`"
)]
pub struct UnavailableBackend {
    /// The missing backend.
    pub kind: DeviceKind,
}

/// Runs `task` with the backend `device` names (CPU: Burn's `flex`; `cuda`, `wgpu` and
/// `libtorch` when built with those cargo features).
pub fn on_device<T: BackendTask>(
    device: impl Into<Device>,
    task: T,
) -> Result<T::Output, UnavailableBackend> {
    let device = device.into();
    match device.kind {
        DeviceKind::Cpu => Ok(task
            .run::<burn::backend::Autodiff<burn::backend::Flex>>(&burn::backend::flex::FlexDevice)),
        #[cfg(feature = "cuda")]
        DeviceKind::Cuda => Ok(task.run::<burn::backend::Autodiff<burn::backend::Cuda>>(
            &burn::backend::cuda::CudaDevice {
                index: device.index.unwrap_or(0),
            },
        )),
        #[cfg(feature = "wgpu")]
        DeviceKind::Wgpu => {
            let wgpu = match device.index {
                Some(index) => burn::backend::wgpu::WgpuDevice::DiscreteGpu(index),
                None => burn::backend::wgpu::WgpuDevice::default(),
            };
            Ok(task.run::<burn::backend::Autodiff<burn::backend::Wgpu>>(&wgpu))
        }
        #[cfg(feature = "libtorch")]
        DeviceKind::LibTorch => Ok(
            task.run::<burn::backend::Autodiff<burn::backend::LibTorch>>(
                &burn::backend::libtorch::LibTorchDevice::Cpu,
            ),
        ),
        #[allow(unreachable_patterns)]
        kind => Err(UnavailableBackend { kind }),
    }
}

/// Allocates a tensor on `device` and reads it back: the device exists and computes.
pub fn check_device(device: impl Into<Device>) -> Result<(), RuntimeError> {
    struct OnePlusNothing;
    impl BackendTask for OnePlusNothing {
        type Output = f32;
        fn run<B: AutodiffBackend>(self, device: &B::Device) -> f32 {
            let value = burn::tensor::Tensor::<B, 1>::ones([1], device)
                .sum()
                .into_scalar();
            burn::tensor::ElementConversion::elem::<f32>(value)
        }
    }
    let device = device.into();
    if on_device(device, OnePlusNothing)? == 1.0 {
        Ok(())
    } else {
        Err(RuntimeError::invalid(format!(
            "the {} device computes 1 ≠ 1",
            device.kind
        )))
    }
}
