//! With the `libtorch` feature, the binary records where PyTorch's libraries are (an rpath),
//! so it runs without LD_LIBRARY_PATH: the folder `source scripts/libtorch.sh` found and
//! exported as `PREFRONTAL_TORCH_LIB`, beside what torch-sys builds against.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PREFRONTAL_TORCH_LIB");
    if std::env::var_os("CARGO_FEATURE_LIBTORCH").is_none() {
        return;
    }
    match std::env::var("PREFRONTAL_TORCH_LIB") {
        Ok(lib) => println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}"),
        Err(_) => panic!(
            "the libtorch feature needs PyTorch 2.9.0 and PREFRONTAL_TORCH_LIB: run `source scripts/libtorch.sh` first"
        ),
    }
}
