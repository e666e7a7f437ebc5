#!/usr/bin/env bash
# Installs the Debian packages the project builds and tests with, where any is missing.
# Runs as root (as CI does) or through sudo.
set -euo pipefail

packages=(
    ocl-icd-opencl-dev opencl-headers  # the OpenCL ICD loader and headers
    libclblast-dev                     # CLBlast: GEMM on any OpenCL device
    pocl-opencl-icd                    # an OpenCL device on any CPU (tests and CI run kernels here)
    libopenblas0-pthread               # OpenBLAS: the GEMM of CPU devices (dlopened; GPUs use CLBlast)
    zlib1g-dev                         # gzip-compressed IDX data sets
    dataset-fashion-mnist              # the main job's data (/usr/share/datasets/fashion-mnist)
    openmpi-bin libopenmpi-dev         # Open MPI: mpirun and libmpi for data-parallel runs and the 2-rank tests
                                       # (libmpi is dlopened at run time; one process and the build need neither)
    oclgrind                           # a simulated GPU-type OpenCL device that checks every access (scripts/oclgrind.sh)
    clang-15 libclc-15                 # offline kernel compiles for NVIDIA and AMD GPUs (scripts/kernels-offline.py)
    clinfo pkg-config
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
command -v swift >/dev/null || { echo "swift is not on PATH: install a Swift 6 toolchain first" >&2; exit 1; }
