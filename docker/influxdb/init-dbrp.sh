#!/bin/sh
# Maps the InfluxQL database "qos" (retention policy "autogen", the database's default) to the bucket "qos",
# so that Grafana's InfluxQL datasource (dbName qos) and any InfluxQL client can read qoswatch's rollups.
#
# The influxdb:2.x image runs the executable *.sh files in /docker-entrypoint-initdb.d once, right after its
# automated setup (DOCKER_INFLUXDB_INIT_MODE=setup) on an empty data volume. They run with the influx CLI
# configured for the new instance (host, org and admin token) and with DOCKER_INFLUXDB_INIT_ORG_ID and
# DOCKER_INFLUXDB_INIT_BUCKET_ID exported. InfluxDB 2.x also serves a read-only "virtual" mapping named after
# each bucket; this explicit one keeps the database name stable whatever the bucket is called and is listed by
# `influx v1 dbrp list`.
#
# Idempotent: an existing explicit mapping for qos/autogen is left alone, so it is safe to run again by hand:
#   docker compose exec influxdb /docker-entrypoint-initdb.d/init-dbrp.sh
# POSIX sh: the image's /bin/sh is dash.
set -eu

DBRP_DB=qos
DBRP_RP=autogen
DBRP_BUCKET=qos

org="${DOCKER_INFLUXDB_INIT_ORG:?DOCKER_INFLUXDB_INIT_ORG is not set}"

# `influx v1 dbrp list` prints the explicit mappings first, then a "VIRTUAL DBRP MAPPINGS" section: count only
# the rows before that section. A failing listing stops the script (set -e), and with it the container's setup.
listing=$(influx v1 dbrp list --org "$org" --db "$DBRP_DB" --rp "$DBRP_RP" --hide-headers)
explicit=$(printf '%s\n' "$listing" | awk '/VIRTUAL DBRP MAPPINGS/ { exit } NF { n++ } END { print n + 0 }')
if [ "$explicit" -gt 0 ]; then
  echo "init-dbrp: InfluxQL database $DBRP_DB, retention policy $DBRP_RP is already mapped; leaving it alone"
  exit 0
fi

# The bucket created by the setup has its id exported; any other bucket is looked up by name.
bucket_id=""
if [ "${DOCKER_INFLUXDB_INIT_BUCKET:-}" = "$DBRP_BUCKET" ]; then
  bucket_id="${DOCKER_INFLUXDB_INIT_BUCKET_ID:-}"
fi
if [ -z "$bucket_id" ]; then
  bucket_id=$(influx bucket list --org "$org" --name "$DBRP_BUCKET" --hide-headers | cut -f 1 | head -n 1)
fi
if [ -z "$bucket_id" ]; then
  echo "init-dbrp: bucket $DBRP_BUCKET not found in org $org (DOCKER_INFLUXDB_INIT_BUCKET must be $DBRP_BUCKET)" >&2
  exit 1
fi

influx v1 dbrp create --org "$org" --db "$DBRP_DB" --rp "$DBRP_RP" --bucket-id "$bucket_id" --default
echo "init-dbrp: mapped InfluxQL database $DBRP_DB, retention policy $DBRP_RP (default) to bucket $DBRP_BUCKET ($bucket_id)"
