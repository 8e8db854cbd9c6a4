//! Where the model runs: the device named in config or on the command line, and the choice `auto` makes.

use candle_core::Device;

use super::EngineError;

/// A device setting as written in config or on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceName {
    Auto,
    Cpu,
    Cuda(usize),
    Metal,
}

pub fn parse_device_name(text: &str) -> Option<DeviceName> {
    match text.trim().to_ascii_lowercase().as_str() {
        "auto" | "" => Some(DeviceName::Auto),
        "cpu" => Some(DeviceName::Cpu),
        "cuda" | "gpu" => Some(DeviceName::Cuda(0)),
        "metal" => Some(DeviceName::Metal),
        other => other
            .strip_prefix("cuda:")
            .and_then(|n| n.parse().ok())
            .map(DeviceName::Cuda),
    }
}

/// Picks the compute device: `auto` takes CUDA, then Metal, then the CPU.
pub fn select_device(name: DeviceName) -> Result<(Device, String), EngineError> {
    match name {
        DeviceName::Cpu => Ok((Device::Cpu, "cpu".into())),
        DeviceName::Cuda(n) => Device::new_cuda(n)
            .map(|d| (d, format!("cuda:{n}")))
            .map_err(|e| EngineError::Device(format!("cuda:{n} is not usable ({e}); build with --features cuda on a machine with CUDA, or use --device cpu"))),
        DeviceName::Metal => Device::new_metal(0)
            .map(|d| (d, "metal".into()))
            .map_err(|e| EngineError::Device(format!("metal is not usable ({e}); build with --features metal on a Mac, or use --device cpu"))),
        DeviceName::Auto => {
            if candle_core::utils::cuda_is_available() {
                if let Ok(d) = Device::new_cuda(0) {
                    return Ok((d, "cuda:0".into()));
                }
            }
            if candle_core::utils::metal_is_available() {
                if let Ok(d) = Device::new_metal(0) {
                    return Ok((d, "metal".into()));
                }
            }
            Ok((Device::Cpu, "cpu".into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names() {
        assert_eq!(parse_device_name("CUDA:1"), Some(DeviceName::Cuda(1)));
        assert_eq!(parse_device_name("cpu"), Some(DeviceName::Cpu));
        assert_eq!(parse_device_name("tpu"), None);
    }
}
