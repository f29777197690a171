"""Issue 17, production shape: task logs readable in the UI of docker-compose.yml's topology.

The workers write each task's log under `[logging] base_log_folder`; the api-server reads a
finished task's log from its own file system first and only otherwise asks the worker's log
server (port 8793, gone with the worker). So every Airflow role must mount one named volume at
the folder the environment names, writable (not `:ro`).
"""

from __future__ import annotations

from test_compose import AIRFLOW_ROLES, compose, env_of  # noqa: F401 (the fixture)


def test_every_airflow_role_mounts_the_shared_log_volume_at_the_log_folder(compose):  # noqa: F811
    services = compose["services"]
    folders = {name: env_of(services[name]).get("AIRFLOW__LOGGING__BASE_LOG_FOLDER") for name in AIRFLOW_ROLES}
    assert set(folders.values()) == {"/opt/airflow/logs"}, folders
    volumes = set()
    for name in AIRFLOW_ROLES:
        mounts = [v.split(":") for v in services[name]["volumes"]]
        at_logs = [m for m in mounts if m[1] == folders[name]]
        assert len(at_logs) == 1, (name, mounts)
        assert at_logs[0][2:] != ["ro"], f"{name} must be able to write its logs"
        volumes.add(at_logs[0][0])
    assert len(volumes) == 1 and volumes <= set(compose["volumes"]), volumes
    assert "8793" not in str(services["airflow-worker"].get("ports", ""))
