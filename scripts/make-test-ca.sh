#!/usr/bin/env bash
# Makes a throw-away CA and SPIFFE workload certificates for ztunnel tests and demos.
# Layout (what `ztunnel --dev-ca DIR` and `ztunnel --cert-dir DIR` read):
#   DIR/ca-cert.pem, DIR/ca-key.pem      the CA (dev mode mints from these)
#   DIR/root-cert.pem                    trust bundle (= the CA certificate)
#   DIR/<ns>/<sa>/cert-chain.pem, key.pem  one per --identity / --expired
# Usage: make-test-ca.sh DIR [--trust-domain TD] [--days N] [--identity NS/SA]...
#                            [--expired NS/SA]... [--uri-san URI NS/SA]...
#   --expired     issue that identity with a validity that ended yesterday
#   --uri-san     issue NS/SA with an arbitrary URI SAN instead of its SPIFFE id (negative tests)
# Exit codes: 0 ok, 2 bad usage, 1 openssl failed.
set -euo pipefail

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[ $# -ge 1 ] || usage
case "$1" in -h|--help) usage ;; esac
dir=$1; shift
td=cluster.local
days=30
declare -a ids=() expired=() custom=()
while [ $# -gt 0 ]; do
  case "$1" in
    --trust-domain) td=$2; shift 2 ;;
    --days) days=$2; shift 2 ;;
    --identity) ids+=("$2"); shift 2 ;;
    --expired) expired+=("$2"); shift 2 ;;
    --uri-san) custom+=("$2 $3"); shift 3 ;;
    -h|--help) usage ;;
    *) echo "make-test-ca: unknown argument '$1'" >&2; usage ;;
  esac
done

mkdir -p "$dir"
ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
if [ ! -f "$dir/ca-cert.pem" ]; then
  ec "$dir/ca-key.pem"
  openssl req -x509 -new -key "$dir/ca-key.pem" -out "$dir/ca-cert.pem" -days "$days" \
    -subj "/O=ztunnel test CA/CN=$td" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
fi
cp "$dir/ca-cert.pem" "$dir/root-cert.pem"

issue() {  # issue NS/SA URI VALIDITY_DAYS
  local out="$dir/$1" tmp
  mkdir -p "$out"
  tmp=$(mktemp -d)
  ec "$out/key.pem"
  openssl req -new -key "$out/key.pem" -out "$tmp/csr" -subj "/O=ztunnel test workload" 2>/dev/null
  printf 'subjectAltName=URI:%s\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n' "$2" >"$tmp/ext"
  openssl x509 -req -in "$tmp/csr" -CA "$dir/ca-cert.pem" -CAkey "$dir/ca-key.pem" \
    -set_serial "0x$(openssl rand -hex 8)" -days "$3" -extfile "$tmp/ext" -out "$out/cert-chain.pem" 2>/dev/null
  rm -rf "$tmp"
}

for id in "${ids[@]}"; do issue "$id" "spiffe://$td/ns/${id%%/*}/sa/${id##*/}" "$days"; done
for id in "${expired[@]}"; do issue "$id" "spiffe://$td/ns/${id%%/*}/sa/${id##*/}" -1; done
for entry in "${custom[@]}"; do issue "${entry#* }" "${entry%% *}" "$days"; done
echo "test CA in $dir (trust domain $td)"
