# Sourced by test.sh and serve-aws-local.sh: moves to the repository root, installs what
# is missing into .tools/, and defines start_services, which starts DynamoDB Local and the
# moto server on free loopback ports, sets their URLs (DYNAMODB_URL, S3_URL) and stops
# them when the calling script exits.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash scripts/install-tools.sh
tools=$(cd "$root/.tools" && pwd -P)
# Logs are the clone's own, even where .tools/ is shared.
logs="$root/.logs"
mkdir -p "$logs"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

pids=()
stop_services() {
  for pid in "${pids[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]:-}"; do
    [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
  done
}
trap stop_services EXIT INT TERM

wait_for() { # name url seconds
  local name=$1 url=$2 deadline=$((SECONDS + $3))
  until curl -s -o /dev/null "$url"; do
    if [ $SECONDS -ge $deadline ]; then
      echo "$name did not start; its log:" >&2
      tail -n 40 "$logs/$name.log" >&2 || true
      exit 1
    fi
    sleep 0.3
  done
}

start_services() {
  local dynamo_port moto_port
  dynamo_port=$(free_port)
  (cd "$tools" && exec java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xmx256m \
    -Djava.library.path="$tools/dynamodb/DynamoDBLocal_lib" \
    -cp "$tools/launcher:$tools/dynamodb/DynamoDBLocal.jar:$tools/dynamodb/DynamoDBLocal_lib/*" \
    LoopbackDynamoDb -inMemory -sharedDb -disableTelemetry -port "$dynamo_port") >"$logs/dynamodb.log" 2>&1 &
  pids+=($!)
  moto_port=$(free_port)
  (exec "$tools/venv/bin/moto_server" -H 127.0.0.1 -p "$moto_port") >"$logs/moto.log" 2>&1 &
  pids+=($!)
  wait_for dynamodb "http://127.0.0.1:$dynamo_port" 60
  wait_for moto "http://127.0.0.1:$moto_port/moto-api/" 60
  DYNAMODB_URL="http://127.0.0.1:$dynamo_port"
  S3_URL="http://127.0.0.1:$moto_port"
  # The SDKs must never reach for real credentials or the instance metadata service.
  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=eu-west-1 AWS_EC2_METADATA_DISABLED=true
}
