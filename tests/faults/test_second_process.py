"""A second process of a Mongo-backed service on the embedded store refuses to start.

FerretDB 1.24 applies an update as a read and a write with no isolation between
connections, so two processes of one service would lose updates silently
(docs/architecture.md, "The embedded store"). Started by hand beside the running
one, exactly as a user scaling out would, the second process must exit with a
message naming the reason and the way out, and the first must keep serving.
"""

import subprocess

import httpx
import pytest

from stack import REPO_ROOT, Stack

MONGO_SERVICES = ("users", "orders", "payments")


@pytest.mark.parametrize("service", MONGO_SERVICES)
def test_a_second_process_refuses_to_start_and_the_first_keeps_serving(
    stack_control: Stack, service: str
) -> None:
    config = stack_control.config
    if config.external_mongodb_uri:
        pytest.skip("a real MongoDB (STACK_MONGODB_URI) takes several processes of a service")
    env = {
        **{k: v for k, v in config.supervisord_env().items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")},
        "PORT": "14999",
        "MONGODB_URI": config.mongodb_uri,
        "MONGODB_DATABASE": service,
        "FERRETDB_POSTGRESQL_URL": config.ferretdb_postgresql_url,
        "JWT_PRIVATE_KEY_FILE": str(config.stack_dir / "keys" / "jwt-ed25519.pem"),
    }
    second = subprocess.run(
        ["uv", "run", "--frozen", "--project", f"subgraphs/{service}", "python", "-m", service],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert second.returncode != 0
    output = second.stdout + second.stderr
    assert f"another {service} process already writes to the database '{service}'" in output, output[-2000:]
    assert "MONGODB_URI" in output
    assert stack_control.state(service) == "RUNNING"
    assert httpx.get(config.health_url(service), timeout=5.0).status_code == 200
