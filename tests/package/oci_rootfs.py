#!/usr/bin/python3
"""oci_rootfs.py ARCHIVE DIR: unpacks the filesystem of the one image in an
OCI archive (buildah push oci-archive:) into DIR, as a runtime would: index,
manifest, then each layer in order (whiteouts honoured), with no container
engine or image store. Prints the image config's Entrypoint and Cmd as JSON:
{"entrypoint": [...], "cmd": [...], "files": [...]}."""
import json
import os
import shutil
import sys
import tarfile
import tempfile


def blob(root, digest):
    algorithm, value = digest.split(":", 1)
    return os.path.join(root, "blobs", algorithm, value)


def main(archive, target):
    with tempfile.TemporaryDirectory() as layout:
        with tarfile.open(archive) as t:
            t.extractall(layout)
        with open(os.path.join(layout, "oci-layout")) as f:
            if json.load(f).get("imageLayoutVersion") != "1.0.0":
                sys.exit("oci_rootfs: %s is not an OCI image layout 1.0.0" % archive)
        with open(os.path.join(layout, "index.json")) as f:
            manifests = json.load(f)["manifests"]
        if len(manifests) != 1:
            sys.exit("oci_rootfs: expected one image, found %d" % len(manifests))
        with open(blob(layout, manifests[0]["digest"])) as f:
            manifest = json.load(f)
        with open(blob(layout, manifest["config"]["digest"])) as f:
            config = json.load(f)
        os.makedirs(target, exist_ok=True)
        for layer in manifest["layers"]:
            with tarfile.open(blob(layout, layer["digest"])) as t:
                members = []
                for member in t.getmembers():
                    head, name = os.path.split(member.name)
                    if name.startswith(".wh."):
                        gone = os.path.join(target, head, name[len(".wh."):])
                        if os.path.isdir(gone) and not os.path.islink(gone):
                            shutil.rmtree(gone)
                        elif os.path.lexists(gone):
                            os.unlink(gone)
                    else:
                        members.append(member)
                t.extractall(target, members)
    files = sorted(os.path.relpath(os.path.join(d, n), target)
                   for d, dirs, names in os.walk(target) for n in names + dirs)
    c = config.get("config", {})
    print(json.dumps({"entrypoint": c.get("Entrypoint") or [], "cmd": c.get("Cmd") or [], "files": files}))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
