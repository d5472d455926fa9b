# Demo PKI for quickstart and tests: a CA, a server certificate for
# localhost/127.0.0.1 and client certificates, EC P-256, keys mode 0600.
# Never overwrites an existing key. (heraldctl ca/cert replaces this for
# real deployments; see docs/CERTIFICATES.md once it lands.)

# herald_pki_key FILE: an EC P-256 key, mode 0600, unless FILE exists.
herald_pki_key() {
  [[ -f "$1" ]] && return 0
  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$1" 2>/dev/null)
}

# herald_pki_ca DIR NAME: DIR/NAME.crt + DIR/NAME.key (10 years).
herald_pki_ca() {
  local dir=$1 name=$2
  mkdir -p "$dir"
  herald_pki_key "$dir/$name.key"
  [[ -f "$dir/$name.crt" ]] && return 0
  openssl req -x509 -new -key "$dir/$name.key" -sha256 -days 3650 \
    -subj "/O=Herald/CN=Herald $name" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$dir/$name.crt" 2>/dev/null
}

# herald_pki_leaf DIR CA NAME KIND [DAYS]: KIND is server or client.
herald_pki_leaf() {
  local dir=$1 ca=$2 name=$3 kind=$4 days=${5:-365} ext
  herald_pki_key "$dir/$name.key"
  [[ -f "$dir/$name.crt" ]] && return 0
  ext=$(mktemp)
  if [[ "$kind" == server ]]; then
    printf '%s\n' "basicConstraints=critical,CA:FALSE" \
      "keyUsage=critical,digitalSignature" \
      "extendedKeyUsage=serverAuth,clientAuth" \
      "subjectAltName=DNS:localhost,IP:127.0.0.1" >"$ext"
  else
    printf '%s\n' "basicConstraints=critical,CA:FALSE" \
      "keyUsage=critical,digitalSignature" \
      "extendedKeyUsage=clientAuth" >"$ext"
  fi
  openssl req -new -key "$dir/$name.key" -subj "/O=Herald/CN=$name" 2>/dev/null |
    openssl x509 -req -CA "$dir/$ca.crt" -CAkey "$dir/$ca.key" \
      -set_serial "0x$(openssl rand -hex 16)" -days "$days" -sha256 \
      -extfile "$ext" -out "$dir/$name.crt" 2>/dev/null
  rm -f "$ext"
}

# herald_pki_crl DIR CA: DIR/crl.pem, an empty CRL of CA (CRL number 1, 30
# days), unless it exists: nodes refuse to start without a CRL, and the first
# one must exist before the database does. heraldctl crl replaces it later
# (its CRL numbers are higher).
herald_pki_crl() {
  local dir=$1 ca=$2 work
  [[ -f "$dir/crl.pem" ]] && return 0
  work=$(mktemp -d)
  : >"$work/index.txt"
  echo 01 >"$work/crlnumber"
  cat >"$work/ca.cnf" <<CNF
[ca]
default_ca = herald
[herald]
database = $work/index.txt
crlnumber = $work/crlnumber
default_md = sha256
default_crl_days = 30
CNF
  openssl ca -config "$work/ca.cnf" -gencrl -keyfile "$dir/$ca.key" \
    -cert "$dir/$ca.crt" -out "$dir/crl.pem" 2>/dev/null
  local rc=$?
  rm -rf "$work"
  return "$rc"
}

# herald_pki_fingerprint FILE: the SHA-256 fingerprint of a certificate as
# Herald writes it (lower-case hex, no colons).
herald_pki_fingerprint() {
  openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : |
    tr 'A-F' 'a-f'
}
