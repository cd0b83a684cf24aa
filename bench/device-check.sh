#!/usr/bin/env bash
# The device check (bench/device-check.ts) on a Linux machine with a GPU and no network or browser:
# the engine and training benchmarks and the decode profile of the bench model and of
# Qwen2.5-0.5B- and SmolLM2-360M-shaped models, in Node on Dawn over Vulkan, in under 5 minutes on
# a datacenter GPU. Results: bench/results/device-check.json and a summary at the end.
#
#   bash bench/device-check.sh --pack        here, where npm and apt work: write dist-device-check/
#   bash bench/device-check.sh [options]     there (options go to device-check.ts, e.g. --models,
#                                            --layers 2 --vocab 8192 --rounds 1 for SwiftShader)
#
# A bare GPU machine may lack Node, node_modules and the Vulkan loader; the pack brings all three
# (~30 MB, git-ignored; copy or carry it along with the checkout): this machine's node binary, the
# check bundled into one file with Dawn's dawn.node beside it, and Debian's libvulkan1 .deb, which
# is unpacked there when `ldconfig -p` lists no libvulkan.so.1 (a libvulkan1 .deb in .gl/ serves
# too). A checkout with node_modules runs bench/device-check.ts with tsx instead (DEVICE_CHECK_PACKED=1
# runs the pack all the same).
# NVIDIA's driver file: src/node/vulkan.ts takes the container mount's, or writes one for
# libGLX_nvidia.so.0 (VK_DRIVER_FILES), when the system's vulkan/icd.d folders name none.
set -euo pipefail
cd "$(dirname "$0")/.."
PACK=dist-device-check

# The bundle is rebuilt every time (the check changes); node, dawn.node and the .deb only when missing.
pack() {
  # What a run unpacks stays out of the pack.
  rm -rf "$PACK/runtime" "$PACK/vulkan" "$PACK/node_modules"
  mkdir -p "$PACK"
  # One file: the engine and the check; dawn.node is a native module, so webgpu stays a package.
  node_modules/.bin/esbuild bench/device-check.ts --bundle --platform=node --format=esm --target=node20 \
    --external:webgpu --log-level=warning --outfile="$PACK/device-check.mjs" \
    --banner:js="import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);"
  if [ ! -f "$PACK/runtime.tar.xz" ]; then
    rm -rf "$PACK/runtime" && mkdir -p "$PACK/runtime/node_modules/webgpu/dist/linux-x64"
    cp node_modules/webgpu/package.json node_modules/webgpu/index.js "$PACK/runtime/node_modules/webgpu/"
    cp node_modules/webgpu/dist/linux-x64/dawn.node "$PACK/runtime/node_modules/webgpu/dist/linux-x64/"
    cp "$(command -v node)" "$PACK/runtime/node"
    XZ_OPT="-T0 -4" tar -C "$PACK/runtime" -cJf "$PACK/runtime.tar.xz" node node_modules
    rm -rf "$PACK/runtime"
  fi
  ls "$PACK"/libvulkan1_*.deb >/dev/null 2>&1 || (cd "$PACK" && apt-get download -qq libvulkan1 2>/dev/null)
  du -sh "$PACK"
}

# Where the machine has no Vulkan loader: unpack one from a libvulkan1 .deb and name it.
vulkan_loader() {
  if [ -n "${SPAR_VULKAN_LOADER:-}" ] || ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1 '; then return; fi
  local deb
  deb=$(ls "$PACK"/libvulkan1_*.deb .gl/libvulkan1_*.deb 2>/dev/null | head -1 || true)
  if [ -z "$deb" ]; then
    echo "No Vulkan loader (libvulkan.so.1) here, and no libvulkan1 .deb in $PACK/ or .gl/ to unpack (bash bench/device-check.sh --pack brings one)." >&2
    return
  fi
  local dir="$PACK/vulkan"
  rm -rf "$dir" && mkdir -p "$dir" && dpkg-deb -x "$deb" "$dir"
  SPAR_VULKAN_LOADER=$(find "$PWD/$dir" -name 'libvulkan.so.1' | head -1)
  export SPAR_VULKAN_LOADER
  echo "Vulkan loader: $SPAR_VULKAN_LOADER (from $deb)"
}

if [ "${1:-}" = "--pack" ]; then
  pack
  exit
fi

# A checkout with node_modules runs the source as it is; elsewhere the pack.
if [ -x node_modules/.bin/tsx ] && [ -z "${DEVICE_CHECK_PACKED:-}" ]; then
  cmd=(node_modules/.bin/tsx bench/device-check.ts)
elif [ -f "$PACK/device-check.mjs" ]; then
  [ -x "$PACK/runtime/node" ] || { mkdir -p "$PACK/runtime" && tar -C "$PACK/runtime" -xJf "$PACK/runtime.tar.xz"; }
  # The bundle finds webgpu in a node_modules beside it.
  ln -sfn runtime/node_modules "$PACK/node_modules"
  cmd=("$PACK/runtime/node" "$PACK/device-check.mjs")
else
  echo "Neither $PACK/ (bash bench/device-check.sh --pack, where npm works) nor node_modules (npm ci) is here." >&2
  exit 1
fi

vulkan_loader
if command -v nvidia-smi >/dev/null; then nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; fi
drivers="${VK_DRIVER_FILES:-${VK_ICD_FILENAMES:-}}"
echo "Vulkan driver files: ${drivers:-as src/node/vulkan.ts finds them (system, NVIDIA, SwiftShader)}"
start=$(date +%s)
limit="${DEVICE_CHECK_TIMEOUT:-600}"
code=0
timeout "$limit" "${cmd[@]}" "$@" || code=$?
if [ "$code" = 124 ]; then echo "device check: stopped at its limit of $limit s (DEVICE_CHECK_TIMEOUT); the JSON holds the models it finished." >&2; fi
echo "device check: $(($(date +%s) - start)) s"
exit "$code"
