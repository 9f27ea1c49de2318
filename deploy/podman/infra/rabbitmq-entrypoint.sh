#!/bin/sh
# The official rabbitmq image's contract, the part compose.yaml uses: RABBITMQ_DEFAULT_USER
# and RABBITMQ_DEFAULT_PASS, reachable from other hosts (no loopback-only users).
set -eu
cat > /etc/rabbitmq/rabbitmq.conf <<CONF
loopback_users = none
default_user = ${RABBITMQ_DEFAULT_USER:-guest}
default_pass = ${RABBITMQ_DEFAULT_PASS:-guest}
CONF
chown -R rabbitmq:rabbitmq /var/lib/rabbitmq
exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups /usr/lib/rabbitmq/bin/rabbitmq-server
