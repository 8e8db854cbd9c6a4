//! Where the model runs: the device named in config or on the command line, and the choice `auto` makes.
//!
//! A GPU that is asked for but cannot be used never stops moodtape: the model runs on the CPU and the choice
//! carries one line saying why (no CUDA in this build, no driver, no GPU), which the faces print.

use candle_core::Device;

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

/// The device the model runs on, its label (`cpu`, `cuda:0`, `metal`) and, when it is not the one asked for,
/// why.
#[derive(Debug, Clone)]
pub struct DeviceChoice {
    pub device: Device,
    pub label: String,
    pub fallback: Option<String>,
}

/// What this build can try: each GPU backend compiled in, opened on request. Tests pass their own.
pub struct Backends<'a> {
    pub cuda: Option<&'a dyn Fn(usize) -> Result<Device, String>>,
    pub metal: Option<&'a dyn Fn() -> Result<Device, String>>,
}

/// Picks the compute device: `auto` takes CUDA, then Metal, then the CPU. A GPU asked for by name that cannot be
/// used falls back to the CPU with the reason; so does `auto` when this build has CUDA or Metal and it fails (a
/// build without either runs on the CPU without a word).
pub fn choose_device(name: DeviceName) -> DeviceChoice {
    #[cfg(feature = "cuda")]
    let cuda: Option<&dyn Fn(usize) -> Result<Device, String>> = Some(&open_cuda);
    #[cfg(not(feature = "cuda"))]
    let cuda: Option<&dyn Fn(usize) -> Result<Device, String>> = None;
    #[cfg(feature = "metal")]
    let metal: Option<&dyn Fn() -> Result<Device, String>> =
        Some(&|| Device::new_metal(0).map_err(|e| e.to_string()));
    #[cfg(not(feature = "metal"))]
    let metal: Option<&dyn Fn() -> Result<Device, String>> = None;
    choose_with(name, &Backends { cuda, metal })
}

/// The choice itself, over the backends given.
pub fn choose_with(name: DeviceName, backends: &Backends) -> DeviceChoice {
    let cpu = |fallback: Option<String>| DeviceChoice {
        device: Device::Cpu,
        label: "cpu".into(),
        fallback,
    };
    let try_cuda = |n: usize| -> Result<DeviceChoice, String> {
        let open = backends.cuda.ok_or_else(|| {
            "this build has no CUDA support (build it with scripts/build-cuda.sh)".to_string()
        })?;
        open(n)
            .map(|device| DeviceChoice {
                device,
                label: format!("cuda:{n}"),
                fallback: None,
            })
            .map_err(|e| format!("cuda:{n} is not usable: {e}"))
    };
    let try_metal = || -> Result<DeviceChoice, String> {
        let open = backends.metal.ok_or_else(|| {
            "this build has no Metal support (build it with --features metal on a Mac)".to_string()
        })?;
        open()
            .map(|device| DeviceChoice {
                device,
                label: "metal".into(),
                fallback: None,
            })
            .map_err(|e| format!("metal is not usable: {e}"))
    };
    let on_cpu = |why: String| cpu(Some(format!("{why}; running on the CPU")));
    match name {
        DeviceName::Cpu => cpu(None),
        DeviceName::Cuda(n) => try_cuda(n).unwrap_or_else(on_cpu),
        DeviceName::Metal => try_metal().unwrap_or_else(on_cpu),
        DeviceName::Auto => {
            let mut why = Vec::new();
            if backends.cuda.is_some() {
                match try_cuda(0) {
                    Ok(choice) => return choice,
                    Err(e) => why.push(e),
                }
            }
            if backends.metal.is_some() {
                match try_metal() {
                    Ok(choice) => return choice,
                    Err(e) => why.push(e),
                }
            }
            cpu((!why.is_empty()).then(|| format!("{}; running on the CPU", why.join("; "))))
        }
    }
}

/// Opens CUDA device `n`, after checking that the libraries candle loads on first use are there: without them
/// it would stop the program instead of returning an error.
#[cfg(feature = "cuda")]
fn open_cuda(n: usize) -> Result<Device, String> {
    // SAFETY: each check only tries to open a shared library by name and closes it again.
    let present = unsafe {
        [
            (
                "the NVIDIA driver (libcuda)",
                cudarc::driver::sys::is_culib_present(),
            ),
            (
                "cuBLAS (libcublas)",
                cudarc::cublas::sys::is_culib_present(),
            ),
            (
                "cuBLASLt (libcublasLt)",
                cudarc::cublaslt::sys::is_culib_present(),
            ),
            (
                "cuRAND (libcurand)",
                cudarc::curand::sys::is_culib_present(),
            ),
        ]
    };
    let missing: Vec<&str> = present
        .iter()
        .filter(|(_, there)| !there)
        .map(|(what, _)| *what)
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "{} not found (install the NVIDIA driver and CUDA libraries, or set LD_LIBRARY_PATH)",
            missing.join(", ")
        ));
    }
    std::panic::catch_unwind(|| Device::new_cuda(n))
        .map_err(|_| "the CUDA libraries failed to load".to_string())?
        .map_err(|e| first_line(&e.to_string()))
}

#[cfg(feature = "cuda")]
fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
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

    fn no_gpu(_: usize) -> Result<Device, String> {
        Err("CUDA_ERROR_NO_DEVICE".into())
    }

    #[test]
    fn a_cuda_build_without_a_gpu_falls_back_with_the_reason() {
        let backends = Backends {
            cuda: Some(&no_gpu),
            metal: None,
        };
        for name in [DeviceName::Auto, DeviceName::Cuda(0)] {
            let choice = choose_with(name, &backends);
            assert!(choice.device.is_cpu());
            assert_eq!(choice.label, "cpu");
            let why = choice.fallback.unwrap_or_default();
            assert!(
                why.contains("cuda:0 is not usable: CUDA_ERROR_NO_DEVICE"),
                "{why}"
            );
            assert!(why.ends_with("running on the CPU"), "{why}");
            assert_eq!(why.lines().count(), 1);
        }
    }

    #[test]
    fn a_cpu_build_says_nothing_on_auto_and_why_on_cuda() {
        let backends = Backends {
            cuda: None,
            metal: None,
        };
        let auto = choose_with(DeviceName::Auto, &backends);
        assert!(auto.device.is_cpu() && auto.fallback.is_none());
        let asked = choose_with(DeviceName::Cuda(1), &backends);
        assert!(asked.device.is_cpu());
        assert!(asked
            .fallback
            .unwrap_or_default()
            .contains("this build has no CUDA support"));
        let cpu = choose_with(DeviceName::Cpu, &backends);
        assert!(cpu.fallback.is_none());
    }

    #[test]
    fn a_working_gpu_is_taken_as_asked() {
        // The CPU device stands in for a GPU that opens: the choice only sees that opening worked.
        let works = |_: usize| Ok(Device::Cpu);
        let backends = Backends {
            cuda: Some(&works),
            metal: None,
        };
        let choice = choose_with(DeviceName::Auto, &backends);
        assert_eq!(choice.label, "cuda:0");
        assert!(choice.fallback.is_none());
        assert_eq!(choose_with(DeviceName::Cuda(2), &backends).label, "cuda:2");
        assert_eq!(choose_with(DeviceName::Cpu, &backends).label, "cpu");
    }
}
