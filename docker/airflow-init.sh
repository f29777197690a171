#!/usr/bin/env bash
# One-shot set-up, run by the `airflow-init` service before any other Airflow role starts
# (and safe to run again at every `docker compose up`):
#   1. the metadata database is migrated to this Airflow version;
#   2. the pool `finsam_warehouse` exists with ONE slot (DuckDB has one writer);
#   3. the sign-in passwords file is written from the env file (never from the repository),
#      and every configured user must have a password (no generated ones in the logs);
#   4. the zones exist and are writable.
set -euo pipefail

echo "finsam: migrerar Airflows metadatadatabas ..."
airflow db migrate

echo "finsam: poolen finsam_warehouse med en plats (en skrivare åt gången i DuckDB-lagret)"
airflow pools set finsam_warehouse 1 "En skrivare åt gången i DuckDB-lagret"

passwords_file="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:-/opt/airflow/auth/passwords.json}"
python - "$passwords_file" <<'PY'
import json, os, sys

path = sys.argv[1]
users = [u.split(":")[0] for u in os.environ.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "").split(",") if u.strip()]
roles = {u.split(":")[0]: (u.split(":") + [""])[1] for u in os.environ.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "").split(",") if u.strip()}
try:
    passwords = json.loads(os.environ.get("AIRFLOW_USER_PASSWORDS", "") or "{}")
except ValueError as exc:
    sys.exit(f"finsam: AIRFLOW_USER_PASSWORDS är inte giltig JSON ({exc})")
if not users:
    sys.exit("finsam: AIRFLOW_USERS saknas (t.ex. anna:admin,erik:op,lisa:viewer)")
bad_roles = {u: r for u, r in roles.items() if r not in ("viewer", "user", "op", "admin")}
if bad_roles:
    sys.exit(f"finsam: okänd roll för {bad_roles} (tillåtna: viewer, user, op, admin)")
missing = [u for u in users if not passwords.get(u)]
if missing:
    sys.exit(f"finsam: lösenord saknas i AIRFLOW_USER_PASSWORDS för: {', '.join(missing)}")
weak = [u for u in users if len(passwords[u]) < 12]
if weak:
    sys.exit(f"finsam: för korta lösenord (minst 12 tecken) för: {', '.join(weak)}")
os.makedirs(os.path.dirname(path), exist_ok=True)
tmp = path + ".tmp"
with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
    json.dump({u: passwords[u] for u in users}, handle)
os.replace(tmp, path)
print(f"finsam: {len(users)} användare med roller: " + ", ".join(f"{u} ({roles[u]})" for u in users))
PY

for zone in "${FINSAM_LANDING:-/data/landing}" "${FINSAM_HOME:-/data/finsam}/raw" \
            "${FINSAM_HOME:-/data/finsam}/quarantine" "$(dirname "${FINSAM_WAREHOUSE:-/data/warehouse/finsam.duckdb}")"; do
  mkdir -p "$zone"
  test -w "$zone" || { echo "finsam: $zone går inte att skriva för användaren $(id -u)"; exit 1; }
done
echo "finsam: klart"
