#!/usr/bin/python3
"""Packs one static executable into an OCI image archive (oci-layout, index.json, blobs: one
uncompressed layer tar, the image config, the manifest), for `ctr images import` where no
registry can be reached. Pure file work; no kernel state.

Usage: oci_image.py BINARY OUT.tar IMAGE-NAME   (the binary becomes /<its basename>, the
entrypoint; IMAGE-NAME like localhost/ambient-test/pause:1)
"""
import hashlib
import io
import json
import os
import sys
import tarfile


def _add(tar, name, data, mode=0o644):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = 0
    tar.addfile(info, io.BytesIO(data))


def _tar(entries):
    """A deterministic tar (fixed mtimes, owner root) of (name, bytes, mode) entries."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, mode in entries:
            _add(tar, name, data, mode)
    return buf.getvalue()


def _descriptor(media_type, data, **extra):
    d = {"mediaType": media_type, "digest": "sha256:" + hashlib.sha256(data).hexdigest(),
         "size": len(data)}
    d.update(extra)
    return d


def build(binary, out, image_name):
    entry = "/" + os.path.basename(binary)
    with open(binary, "rb") as f:
        layer = _tar([(entry.lstrip("/"), f.read(), 0o755)])
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Entrypoint": [entry], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }, sort_keys=True).encode()
    config_desc = _descriptor("application/vnd.oci.image.config.v1+json", config)
    layer_desc = _descriptor("application/vnd.oci.image.layer.v1.tar", layer)
    manifest = json.dumps({"schemaVersion": 2,
                           "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": config_desc, "layers": [layer_desc]},
                          sort_keys=True).encode()
    tag = image_name.rsplit(":", 1)[1] if ":" in image_name.rsplit("/", 1)[-1] else "latest"
    manifest_desc = _descriptor(
        "application/vnd.oci.image.manifest.v1+json", manifest,
        platform={"architecture": "amd64", "os": "linux"},
        # containerd names the imported image after io.containerd.image.name
        annotations={"io.containerd.image.name": image_name,
                     "org.opencontainers.image.ref.name": tag})
    index = json.dumps({"schemaVersion": 2,
                        "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": [manifest_desc]}, sort_keys=True).encode()
    blobs = [("blobs/sha256/" + d["digest"].split(":")[1], data, 0o644)
             for d, data in ((config_desc, config), (layer_desc, layer),
                             (manifest_desc, manifest))]
    archive = _tar([("oci-layout", b'{"imageLayoutVersion":"1.0.0"}', 0o644),
                    ("index.json", index, 0o644)] + blobs)
    with open(out + ".tmp", "wb") as f:
        f.write(archive)
    os.rename(out + ".tmp", out)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    build(*sys.argv[1:])
