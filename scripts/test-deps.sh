#!/usr/bin/env bash
# The Debian packages the tests use, installed when missing (npm's `pretest` and .ci/run call this):
# scikit-learn (peer check of `flat`), chromium (HTML report test), gdal-bin (the raster tests
# write tiled, COG and EPSG:4326 GeoTIFFs with it), DejaVu fonts (picture text).
set -euo pipefail
need=()
/usr/bin/python3 -c 'import sklearn' 2>/dev/null || need+=(python3-sklearn)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v gdal_translate >/dev/null 2>&1 || need+=(gdal-bin)
fc-list 2>/dev/null | grep -qi dejavu || need+=(fonts-dejavu-core)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "test-deps: the tests need these Debian packages: ${need[*]} (run as root, or: sudo apt-get install ${need[*]})" >&2
  exit 1
fi
echo "test-deps: installing ${need[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need[@]}" >/dev/null
