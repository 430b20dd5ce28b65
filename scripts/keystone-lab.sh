# shellcheck shell=bash
# Keystone for scripts/cinder-lab.sh (sourced, not run): Debian's keystone package, its own
# database in the lab's PostgreSQL, fernet tokens, served by uwsgi as a child of the lab on a
# loopback port. No Apache, no system service, nothing outside DIR/keystone.
#
# The catalog: service volumev3 with endpoints for public, internal and admin in RegionOne and
# RegionTwo, each at its own port, so that a test can tell which one a client chose. Only
# RegionOne/public is Cinder's own port; the others are ports nothing listens on in the lab
# (a test puts an HTTPTap there to see and relay what reaches it): KEYSTONE_ENDPOINT_PORTS in
# cinder.env lists them as REGION/INTERFACE=PORT.
#
# Users (project "admin", domain Default): admin (role admin), tether (role admin: it lists
# attachments by host, an admin filter) with an application credential, and cinder in project
# "service" for keystonemiddleware. Passwords and the credential secret are random, in 0600
# files under DIR/keystone, never on a command line.

KEYSTONE_UWSGI=/usr/bin/uwsgi

# keystone_conf: DIR/keystone/keystone.conf for the database on PG_PORT.
keystone_conf() {
    local k=$DIR/keystone
    mkdir -p "$k/fernet-keys" "$k/credential-keys" "$k/log"
    chmod 700 "$k"
    cat >"$k/keystone.conf" <<CONF
[DEFAULT]
log_file = $k/log/keystone.log
use_stderr = false

[database]
connection = postgresql+psycopg2://postgres@127.0.0.1:$PG_PORT/keystone

[token]
provider = fernet
expiration = ${KEYSTONE_LAB_TOKEN_EXPIRATION:-3600}

[fernet_tokens]
key_repository = $k/fernet-keys

[fernet_receipts]
key_repository = $k/fernet-keys

[credential]
key_repository = $k/credential-keys

[cache]
enabled = false

[identity]
# bcrypt's least cost: the default (12) makes every password token take ~1 s on a loaded machine.
password_hash_rounds = 4
CONF
    chmod 600 "$k/keystone.conf"
    chmod 700 "$k/fernet-keys" "$k/credential-keys"
    random_secret "$k/admin.password"
    random_secret "$k/tether.password"
    random_secret "$k/cinder.password"
}

keystone_manage() {
    PYTHONWARNINGS=ignore keystone-manage --config-file "$DIR/keystone/keystone.conf" "$@"
}

# random_secret FILE: 32 random characters in a 0600 file.
random_secret() {
    (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$1")
}

# keystone_setup: schema, keys, bootstrap (admin, RegionOne, the identity endpoint). The database
# and keystone_conf's files must exist.
keystone_setup() {
    local k=$DIR/keystone
    keystone_manage db_sync >"$k/log/db-sync.log" 2>&1
    keystone_manage fernet_setup --keystone-user root --keystone-group root >>"$k/log/db-sync.log" 2>&1
    keystone_manage credential_setup --keystone-user root --keystone-group root >>"$k/log/db-sync.log" 2>&1
    # bootstrap takes the password from the environment, not argv.
    OS_BOOTSTRAP_PASSWORD=$(cat "$k/admin.password") keystone_manage bootstrap \
        --bootstrap-username admin --bootstrap-project-name admin --bootstrap-role-name admin \
        --bootstrap-service-name keystone --bootstrap-region-id RegionOne \
        --bootstrap-public-url "http://127.0.0.1:$KEYSTONE_PORT/v3" >>"$k/log/db-sync.log" 2>&1
}

# keystone_start: uwsgi serving keystone-wsgi-public on 127.0.0.1:KEYSTONE_PORT.
keystone_start() {
    keystone_uwsgi "$DIR/keystone" "$KEYSTONE_PORT" "$DIR/keystone/log/uwsgi.out"
    record KEYSTONE_PID $!
}

# keystone_uwsgi CONFDIR PORT OUT: uwsgi in the background with CONFDIR/keystone.conf on 127.0.0.1:PORT.
keystone_uwsgi() {
    (OS_KEYSTONE_CONFIG_DIR=$1 OS_KEYSTONE_CONFIG_FILES=keystone.conf PYTHONWARNINGS=ignore \
        daemon exec "$KEYSTONE_UWSGI" --plugin python3 --http-socket "127.0.0.1:$2" \
        --wsgi-file /usr/bin/keystone-wsgi-public --master --processes 1 --threads 8 --lazy-apps \
        --die-on-term --need-app --buffer-size 65535 --chdir "$1") \
        </dev/null >"$3" 2>&1 &
}

# keystone_expiring_start SECONDS: a second uwsgi of the same Keystone (its database, its fernet
# keys) on KEYSTONE_PORT+1 whose tokens live SECONDS. A test makes a token really expire with it
# without shortening the tokens of the shared lab (the admin's header, Cinder's service user).
# The lab's Keystone checks its tokens like its own: the expiry is inside the fernet token.
keystone_expiring_start() {
    local k=$DIR/keystone e=$DIR/keystone/expiring
    (umask 077
     mkdir -p "$e/log"
     sed -e "s|^expiration = .*|expiration = $1|" -e "s|^log_file = .*|log_file = $e/log/keystone.log|" \
         "$k/keystone.conf" >"$e/keystone.conf")
    keystone_uwsgi "$e" $((KEYSTONE_PORT + 1)) "$e/log/uwsgi.out"
    record KEYSTONE_EXPIRING_PID $!
    wait_for 60 "the expiring keystone on 127.0.0.1:$((KEYSTONE_PORT + 1))" \
        curl -sf --noproxy '*' --max-time 2 "http://127.0.0.1:$((KEYSTONE_PORT + 1))/v3"
}

keystone_answers() {
    curl -sf --noproxy '*' --max-time 2 "http://127.0.0.1:$KEYSTONE_PORT/v3" >/dev/null
}

# keystone_catalog: regions, the volumev3 service and its six endpoints, the users, roles and the
# application credential; writes DIR/keystone/*.header (X-Auth-Token lines for curl -H @FILE),
# tether.appcred (the secret) and keystone.env.
keystone_catalog() {
    local k=$DIR/keystone
    KEYSTONE_URL=http://127.0.0.1:$KEYSTONE_PORT/v3 K="$k" API_PORT=$API_PORT ENDPOINT_BASE=$ENDPOINT_BASE "$PY" - <<'PY'
import json, os, urllib.request, urllib.error

url, k = os.environ["KEYSTONE_URL"], os.environ["K"]
api_port, base = int(os.environ["API_PORT"]), int(os.environ["ENDPOINT_BASE"])

def secret(name):
    with open(f"{k}/{name}") as f:
        return f.read().strip()

def call(method, path, body=None, token=None, want=(200, 201, 204)):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("X-Auth-Token", token)
    with urllib.request.urlopen(req, timeout=30) as r:
        text = r.read()
        assert r.status in want, (method, path, r.status)
        return r.headers, (json.loads(text) if text else {})

def token(user, password, project):
    headers, _ = call("POST", "/auth/tokens", {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"id": "default"}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"id": "default"}}}}})
    return headers["X-Subject-Token"]

admin = token("admin", secret("admin.password"), "admin")
_, projects = call("GET", "/projects?name=admin", token=admin)
admin_project = projects["projects"][0]["id"]
_, roles = call("GET", "/roles?name=admin", token=admin)
admin_role = roles["roles"][0]["id"]
_, service_project = call("POST", "/projects", {"project": {"name": "service", "domain_id": "default"}}, token=admin)
service_project = service_project["project"]["id"]

def user(name, project):
    _, u = call("POST", "/users", {"user": {"name": name, "domain_id": "default", "password": secret(f"{name}.password")}}, token=admin)
    uid = u["user"]["id"]
    call("PUT", f"/projects/{project}/users/{uid}/roles/{admin_role}", token=admin)
    return uid

tether = user("tether", admin_project)
user("cinder", service_project)

call("POST", "/regions", {"region": {"id": "RegionTwo"}}, token=admin)
_, svc = call("POST", "/services", {"service": {"type": "volumev3", "name": "cinderv3"}}, token=admin)
svc = svc["service"]["id"]
ports = []
offset = 0
for region in ("RegionOne", "RegionTwo"):
    for interface in ("public", "internal", "admin"):
        if (region, interface) == ("RegionOne", "public"):
            port = api_port
        else:
            port, offset = base + offset, offset + 1
        ports.append(f"{region}/{interface}={port}")
        call("POST", "/endpoints", {"endpoint": {"service_id": svc, "interface": interface, "region_id": region,
             "url": f"http://127.0.0.1:{port}/v3/%(project_id)s"}}, token=admin)

tether_token = token("tether", secret("tether.password"), "admin")
_, cred = call("POST", f"/users/{tether}/application_credentials",
               {"application_credential": {"name": "tether-lab"}}, token=tether_token)
old = os.umask(0o077)
with open(f"{k}/tether.appcred", "w") as f:
    f.write(cred["application_credential"]["secret"])
with open(f"{k}/admin.header", "w") as f:
    f.write(f"X-Auth-Token: {admin}\n")
os.umask(old)
with open(f"{k}/keystone.env", "w") as f:
    f.write(f"PROJECT_ID={admin_project}\n")
    f.write(f"KEYSTONE_TETHER_USER_ID={tether}\n")
    f.write(f"KEYSTONE_APPCRED_ID={cred['application_credential']['id']}\n")
    f.write(f"KEYSTONE_ENDPOINT_PORTS={','.join(ports)}\n")
PY
}

# keystone_up: all of Keystone, from an empty database to the catalog; run in the background while
# Cinder's schema is made and its services start (none of them needs Keystone until a request).
keystone_up() {
    keystone_setup
    phase "keystone schema, keys, bootstrap done"
    keystone_start
    wait_for 60 "keystone on 127.0.0.1:$KEYSTONE_PORT" keystone_answers
    phase "keystone answers"
    keystone_catalog
    phase "keystone catalog made"
}

# keystone_cinder_conf: what cinder.conf needs to check tokens with this Keystone. No token cache:
# a revoked token is refused at once (the renewal test revokes one mid-operation).
keystone_cinder_conf() {
    cat <<CONF

[keystone_authtoken]
www_authenticate_uri = http://127.0.0.1:$KEYSTONE_PORT/v3
auth_url = http://127.0.0.1:$KEYSTONE_PORT/v3
auth_type = password
username = cinder
password = $(cat "$DIR/keystone/cinder.password")
user_domain_name = Default
project_name = service
project_domain_name = Default
token_cache_time = -1
# Its default, internal, is not Keystone's own endpoint in the lab's catalog (bootstrap makes public).
interface = public
CONF
}
