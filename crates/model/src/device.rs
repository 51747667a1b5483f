//! Device selection from a user string (`cpu`, `tch`, `tch-cuda:0`, `cuda:0`): burn 0.22 picks the
//! backend at run time from the `Device`; GPU backends exist only when their cargo feature is on.

use burn::tensor::Device;

use crate::error::{Error, Result};

/// A parsed `--device` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceSpec {
    /// burn's pure-Rust `flex` CPU backend (the default).
    Cpu,
    /// libtorch on the CPU (`tch` feature).
    Tch,
    /// libtorch on a CUDA GPU (`tch` feature).
    TchCuda(usize),
    /// CubeCL CUDA (`cuda` feature).
    Cuda(usize),
}

impl std::str::FromStr for DeviceSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let index = |rest: &str| -> Result<usize> {
            if rest.is_empty() {
                return Ok(0);
            }
            rest.trim_start_matches(':')
                .parse()
                .map_err(|_| Error::Device {
                    device: s.into(),
                    message: "expected an index such as `cuda:0`".into(),
                })
        };
        match s {
            "cpu" | "flex" => Ok(DeviceSpec::Cpu),
            "tch" | "tch-cpu" => Ok(DeviceSpec::Tch),
            _ if s.starts_with("tch-cuda") => Ok(DeviceSpec::TchCuda(index(&s[8..])?)),
            _ if s.starts_with("cuda") => Ok(DeviceSpec::Cuda(index(&s[4..])?)),
            _ => Err(Error::Device {
                device: s.into(),
                message: "unknown device (cpu, tch, tch-cuda:N, cuda:N)".into(),
            }),
        }
    }
}

impl DeviceSpec {
    /// The burn device, or an error naming the cargo feature to enable.
    pub fn device(&self) -> Result<Device> {
        match self {
            DeviceSpec::Cpu => Ok(Device::flex()),
            #[cfg(feature = "tch")]
            DeviceSpec::Tch => Ok(Device::libtorch()),
            #[cfg(feature = "tch")]
            DeviceSpec::TchCuda(i) => Ok(Device::libtorch_cuda(*i)),
            #[cfg(feature = "cuda")]
            DeviceSpec::Cuda(i) => Ok(Device::cuda(*i)),
            #[allow(unreachable_patterns)]
            other => Err(Error::Device {
                device: format!("{other:?}"),
                message:
                    "this build lacks the backend; rebuild with `--features cogumi-model/tch` \
                          (libtorch 2.9) or `--features cogumi-model/cuda`"
                        .into(),
            }),
        }
    }

    /// Whether the backend's attention kernel handles grouped K/V heads itself.
    pub fn native_gqa(&self) -> bool {
        matches!(self, DeviceSpec::Cpu)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_device_strings() {
        assert_eq!("cpu".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cpu);
        assert_eq!("cuda:1".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cuda(1));
        assert_eq!(
            "tch-cuda".parse::<DeviceSpec>().unwrap(),
            DeviceSpec::TchCuda(0)
        );
        assert!("tpu".parse::<DeviceSpec>().is_err());
    }
}
