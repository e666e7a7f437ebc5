#!/usr/bin/env python3
"""Compiles every kernel file, in every build variant the library uses, for GPUs this machine lacks.

NVIDIA: clang's nvptx64 target with libclc's built-ins writes PTX, which NVIDIA's `ptxas` assembles
for sm_80 and sm_90 and reports registers, spills and shared memory per kernel. AMD: clang's amdgcn
target writes gfx90a / gfx1100 assembly whose comments give VGPRs, scratch, LDS and occupancy.
NVIDIA's driver compiles OpenCL C with its own compiler, so this is a proxy: it catches invalid
code, spills and resource use, not every driver difference.

Fails (exit 1) on a compile or assembly error, and on register spills (ptxas counts them) in a
kernel's GPU form. Prints one row per GPU-form kernel and target: registers, spilled bytes, private
(per-work-item stack or scratch: spills and private arrays) bytes, static local memory bytes and the
occupancy the registers allow (--markdown: the table in Benchmarks/README.md).

Tools (Debian bookworm): clang-15 and libclc-15; ptxas from PyPI (nvidia-cuda-nvcc-cu12), found
on PATH, in $SSL_PTXAS or in that package. Without ptxas the NVIDIA targets stop at PTX.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KERNELS = ROOT / "Kernels"

# The build options each program is built with, as Sources/SSLCore/OpenCL picks them, and where
# that form runs: "gpu" on every GPU, "nvidia" on NVIDIA's only, "other" on CPUs or in tests (compiled
# too, as a user may force them, but not held to "no spills" nor tabled).
# Keep the tile options equal to KNNTiles' and TF32Tiles' (a test checks).
KNN_LARGE = "-DKNN_TM=128 -DKNN_TN=128 -DKNN_TK=16 -DKNN_WPTM=8 -DKNN_WPTN=8 -DKNN_BUCKET=8 -DKNN_MAX_SPLITS=64"
KNN_SMALL = "-DKNN_TM=64 -DKNN_TN=64 -DKNN_TK=16 -DKNN_WPTM=4 -DKNN_WPTN=4 -DKNN_BUCKET=8 -DKNN_MAX_SPLITS=64"
KNN_PORTABLE = "-DKNN_TM=32 -DKNN_TN=32 -DKNN_TK=16 -DKNN_WPTM=4 -DKNN_WPTN=4 -DKNN_BUCKET=8 -DKNN_MAX_SPLITS=64"
TF32_STANDARD = "-DGT_BM=128 -DGT_BN=128 -DGT_BK=16 -DGT_WM=2 -DGT_WN=4"
TF32_SMALL = "-DGT_BM=32 -DGT_BN=32 -DGT_BK=8 -DGT_WM=2 -DGT_WN=2"
TF32_PORTABLE = "-DGT_BM=32 -DGT_BN=32 -DGT_BK=8 -DGT_WM=1 -DGT_WN=2"
# The fused NT-Xent backward's narrow tile, for devices with 16 KiB of local memory.
NTX_NARROW = "-DNTX_BD=32"

PROGRAMS = ["elementwise", "reduce", "softmax", "normalize", "batchnorm", "sinkhorn", "redundancy",
            "contrastive", "clustering", "distillation", "layers", "optim", "eval", "knn", "augment", "primitives"]


def variants():
    """(file, options, runs_on) for every program the library builds."""
    for name in PROGRAMS:
        if name == "knn":
            yield name, KNN_LARGE, "gpu"
            yield name, KNN_SMALL, "gpu"
            yield name, KNN_PORTABLE, "gpu"
            continue
        yield name, "", "gpu"
        yield name, "-DROWS_SERIAL", "other"
    for width in (8, 1):
        yield "batchnorm", f"-DCOLUMN_WIDTH={width}", "other"
        yield "layers", f"-DCOLUMN_WIDTH={width}", "other"
    yield "layers", "-DGELU_POLYNOMIAL_ERF", "other"
    for stride in (1, 2):
        yield "layers", f"-DCONV_STRIDE={stride}", "gpu"
    yield "contrastive", NTX_NARROW, "gpu"
    # TF32 runs on NVIDIA sm_80+ with the standard tiles; the small tiles and the emulated mma are
    # the tests' (the emulation compiles anywhere).
    yield "gemm_tf32", TF32_STANDARD, "nvidia"
    yield "gemm_tf32", TF32_SMALL, "other"
    yield "gemm_tf32", TF32_STANDARD + " -DGT_EMULATE", "other"
    yield "gemm_tf32", TF32_SMALL + " -DGT_EMULATE", "other"
    yield "gemm_tf32", TF32_PORTABLE + " -DGT_EMULATE", "other"


@dataclass
class KernelStats:
    registers: int = 0
    spilled: int = 0           # NVIDIA: spill stores + loads, bytes (AMD's assembly does not say)
    private: int = 0           # NVIDIA: stack frame; AMD: scratch; bytes per work-item
    shared: int = 0            # static local memory, bytes
    occupancy: str = ""        # NVIDIA: warps per SM the registers allow; AMD: waves per SIMD


@dataclass
class Result:
    file: str
    options: str
    runs_on: str
    target: str
    kernels: dict = field(default_factory=dict)
    error: str = ""


def find_ptxas():
    if os.environ.get("SSL_PTXAS"):
        return os.environ["SSL_PTXAS"]
    if shutil.which("ptxas"):
        return shutil.which("ptxas")
    try:
        import nvidia.cuda_nvcc as nvcc  # type: ignore
        path = Path(list(nvcc.__path__)[0]) / "bin" / "ptxas"
        return str(path) if path.exists() else None
    except ImportError:
        return None


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def nvidia_occupancy(registers):
    """Warps per SM that the register file allows (64 K registers, 256-register warp allocation
    granularity, at most 64 warps on sm_80/sm_90), as 'warps/64'."""
    if registers == 0:
        return "64/64"
    per_warp = -(-registers * 32 // 256) * 256
    return f"{min(64, 65536 // per_warp)}/64"


def compile_nvidia(clang, ptxas, source, options, arch, work):
    ptx = work / "k.ptx"
    cmd = [clang, "-x", "cl", "-cl-std=CL1.2", "-target", "nvptx64-nvidia-nvcl",
           "-Xclang", "-target-feature", "-Xclang", "+ptx75",
           # What NVIDIA's compiler defines; the TF32 kernel takes its inline-PTX branch on it.
           "-Dcl_nv_pragma_unroll=1", "-Dasm=__asm__",
           "-Xclang", "-finclude-default-header",
           "-Xclang", "-mlink-bitcode-file", "-Xclang", "/usr/lib/clc/nvptx64--nvidiacl.bc",
           "-Wno-linker-warnings", "-Wno-unused-command-line-argument",
           "-O2", "-S", "-o", str(ptx), str(source)] + options.split()
    rc, _, err = run(cmd)
    if rc != 0:
        return None, err.strip()
    if ptxas is None:
        return {}, ""
    # clang writes the generic header; ptxas needs the target and a PTX version it accepts.
    text = ptx.read_text()
    text = re.sub(r"^\.target .*$", f".target {arch}", text, count=1, flags=re.M)
    text = re.sub(r"^\.version .*$", ".version 7.8", text, count=1, flags=re.M)
    ptx.write_text(text)
    rc, out, err = run([ptxas, f"-arch={arch}", "-v", str(ptx), "-o", os.devnull])
    if rc != 0:
        return None, (out + err).strip()
    # Each entry: "Compiling entry function", "Function properties" (stack and spills), "Used N
    # registers". A helper that stayed a call has "Function properties" of its own: its spills
    # count against the kernel being compiled.
    kernels, current, properties_of = {}, None, None
    for line in (out + err).splitlines():
        if m := re.search(r"Compiling entry function '(\w+)'", line):
            current = kernels.setdefault(m.group(1), KernelStats())
        elif m := re.search(r"Function properties for (\w+)", line):
            properties_of = m.group(1)
        elif current and (m := re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", line)):
            if properties_of in kernels:
                current.private = int(m.group(1))
            current.spilled += int(m.group(2)) + int(m.group(3))
        elif current and (m := re.search(r"Used (\d+) registers", line)):
            current.registers = int(m.group(1))
            if s := re.search(r"(\d+) bytes smem", line):
                current.shared = int(s.group(1))
            current.occupancy = nvidia_occupancy(current.registers)
    return kernels, ""


def compile_amd(clang, source, options, arch, work):
    asm = work / "k.s"
    cmd = [clang, "-x", "cl", "-cl-std=CL1.2", "-target", "amdgcn-amd-amdhsa", f"-mcpu={arch}", "-nogpulib",
           "-Xclang", "-finclude-default-header",
           "-Xclang", "-mlink-bitcode-file", "-Xclang", "/usr/lib/clc/amdgcn--amdhsa.bc",
           "-Wno-linker-warnings", "-O2", "-S", "-o", str(asm), str(source)] + options.split()
    rc, _, err = run(cmd)
    if rc != 0:
        return None, err.strip()
    kernels, current = {}, None
    for line in asm.read_text().splitlines():
        if m := re.match(r"\s*\.amdhsa_kernel (\w+)", line):
            current = kernels.setdefault(m.group(1), KernelStats())
        elif current and (m := re.match(r"\s*\.amdhsa_group_segment_fixed_size (\d+)", line)):
            current.shared = int(m.group(1))
        elif current and (m := re.match(r"; (?:TotalNumVgprs|NumVgprs): (\d+)", line)):
            current.registers = max(current.registers, int(m.group(1)))  # gfx90a: VGPRs + AGPRs
        elif current and (m := re.match(r"; ScratchSize: (\d+)", line)):
            current.private = int(m.group(1))
        elif current and (m := re.match(r"; Occupancy: (\d+)", line)):
            current.occupancy = m.group(1)
            current = None
    return kernels, ""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", default="sm_80,sm_90,gfx90a,gfx1100",
                        help="comma-separated: sm_XY (NVIDIA) and gfxN (AMD)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--clang", default=os.environ.get("SSL_CLANG", "clang-15"))
    args = parser.parse_args()

    clang = shutil.which(args.clang)
    if clang is None:
        sys.exit(f"kernels-offline: {args.clang} not found (Debian: apt install clang-15 libclc-15)")
    targets = [t for t in args.targets.split(",") if t]
    nvidia = [t for t in targets if t.startswith("sm_")]
    amd = [t for t in targets if t.startswith("gfx")]
    if unknown := [t for t in targets if t not in nvidia + amd]:
        sys.exit(f"kernels-offline: unknown target(s) {', '.join(unknown)}: use sm_XY or gfxN")
    libclc = {"nvptx64--nvidiacl.bc": nvidia, "amdgcn--amdhsa.bc": amd}
    for bc, used in libclc.items():
        if used and not Path("/usr/lib/clc", bc).exists():
            sys.exit(f"kernels-offline: /usr/lib/clc/{bc} not found (Debian: apt install libclc-15)")
    ptxas = find_ptxas() if nvidia else None
    if nvidia and ptxas is None:
        print("kernels-offline: no ptxas (pip install nvidia-cuda-nvcc-cu12, or set SSL_PTXAS): "
              "NVIDIA targets are compiled to PTX only, without registers or spills", file=sys.stderr)

    common = (KERNELS / "common.cl").read_text()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name, options, runs_on in variants():
            source = work / f"{name}.cl"
            # As ProgramCache builds it: common.cl, then the file.
            source.write_text(common + "\n" + (KERNELS / f"{name}.cl").read_text())
            for target in targets:
                if target in nvidia:
                    kernels, error = compile_nvidia(clang, ptxas, source, options, target, work)
                else:
                    kernels, error = compile_amd(clang, source, options, target, work)
                results.append(Result(name, options, runs_on, target, kernels or {}, error))

    failures = []
    for r in results:
        where = f"{r.file}.cl [{r.options or 'no options'}] for {r.target}"
        if r.error:
            failures.append(f"{where}: {r.error.splitlines()[-1] if r.error else 'failed'}")
            print(f"--- {where}\n{r.error}", file=sys.stderr)
        elif runs_there(r):
            failures += [f"{where}: {k} spills {s.spilled} bytes" for k, s in r.kernels.items() if s.spilled]

    print_table(results, targets, args.markdown)
    built = sum(1 for r in results if not r.error)
    print(f"\n{built}/{len(results)} builds ({len(set((r.file, r.options) for r in results))} variants × "
          f"{len(targets)} targets); ptxas: {ptxas or 'none'}", file=sys.stderr)
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures), file=sys.stderr)
        sys.exit(1)


def print_table(results, targets, markdown):
    """One row per kernel of a GPU form: registers · spilled · private · static local (bytes) · occupancy."""
    rows = {}
    for r in results:
        if not runs_there(r) or r.error:
            continue
        variant = short_options(r.options)
        for kernel, s in r.kernels.items():
            cell = f"{s.registers} · {s.spilled} · {s.private} · {s.shared} · {s.occupancy}"
            rows.setdefault((r.file, kernel, variant), {})[r.target] = cell
    header = ["file", "kernel", "variant"] + targets
    lines = [header] + [[f, k, v] + [cells.get(t, "–") for t in targets] for (f, k, v), cells in sorted(rows.items())]
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join("---" for _ in header) + "|")
        for line in lines[1:]:
            print("| " + " | ".join(line) + " |")
    else:
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        for line in lines:
            print("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip())


def runs_there(result):
    """Whether the library runs this form on the result's target."""
    return result.runs_on == "gpu" or (result.runs_on == "nvidia" and result.target.startswith("sm_"))


def short_options(options):
    names = {KNN_LARGE: "knn large", KNN_SMALL: "knn small", KNN_PORTABLE: "knn portable",
             NTX_NARROW: "narrow backward", TF32_PORTABLE + " -DGT_EMULATE": "tf32 portable, emulated",
             TF32_STANDARD: "tf32 standard",
             TF32_SMALL: "tf32 small", TF32_STANDARD + " -DGT_EMULATE": "tf32 standard, emulated",
             TF32_SMALL + " -DGT_EMULATE": "tf32 small, emulated"}
    return names.get(options, options or "GPU")


if __name__ == "__main__":
    main()
