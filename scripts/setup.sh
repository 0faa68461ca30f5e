#!/usr/bin/env bash
# Installs what Prefrontal needs from the system on Debian 12, as root. Safe to re-run.
set -euo pipefail

need_rust="1.95"
if ! command -v cargo >/dev/null 2>&1; then
    echo "setup: cargo is missing; install Rust $need_rust or newer (rustup.rs), then re-run" >&2
    exit 1
fi
have_rust=$(rustc --version | awk '{print $2}')
if [ "$(printf '%s\n%s\n' "$need_rust" "$have_rust" | sort -V | head -n1)" != "$need_rust" ]; then
    echo "setup: rustc $have_rust is older than $need_rust; update Rust, then re-run" >&2
    exit 1
fi

# A C toolchain and pkg-config for crates that build C code; the Vulkan loader and Mesa's
# software Vulkan driver (lavapipe), so that Bevy renders headless on machines without a GPU;
# the X11 client libraries the viewer's window loads at run time, and Xvfb (a virtual X
# display) with xauth for `xvfb-run`, so the viewer also runs, and is tested, without a screen;
# the HDF5 library, which `prefrontal dataset export --format swm-hdf5` writes with.
packages=(build-essential pkg-config libvulkan1 mesa-vulkan-drivers libhdf5-dev
    libx11-6 libx11-xcb1 libxcursor1 libxi6 libxcb1 libxkbcommon0 libxkbcommon-x11-0
    xvfb xauth)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: missing Debian packages ${missing[*]}; run this script as root" >&2
        exit 1
    fi
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
