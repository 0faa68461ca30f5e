//! With the `libtorch` feature, the binary records where PyTorch's libraries are (an rpath),
//! so it runs without LD_LIBRARY_PATH. They are found as torch-sys finds them when built
//! with `LIBTORCH_USE_PYTORCH`: the `torch` package of the python on PATH
//! (`source scripts/libtorch.sh` sets both up).

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=LIBTORCH_USE_PYTORCH");
    println!("cargo:rerun-if-env-changed=VIRTUAL_ENV");
    if std::env::var_os("CARGO_FEATURE_LIBTORCH").is_none() {
        return;
    }
    let python = if std::env::var_os("VIRTUAL_ENV").is_some() {
        "python"
    } else {
        "python3"
    };
    let output = Command::new(python)
        .args([
            "-c",
            "import pathlib, torch; print(pathlib.Path(torch.__file__).parent / 'lib')",
        ])
        .output();
    match output {
        Ok(output) if output.status.success() => {
            let lib = String::from_utf8_lossy(&output.stdout).trim().to_owned();
            println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
        }
        _ => panic!(
            "the libtorch feature needs PyTorch 2.9.0 importable by `{python}`: run `source scripts/libtorch.sh` first"
        ),
    }
}
