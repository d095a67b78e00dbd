# Caddy with caddy-sinch-hms, built from this checkout:
#
#   docker build -f xcaddy.Dockerfile -t caddy-sinch-hms .
#   docker run -p 443:443 -v $PWD/Caddyfile:/etc/caddy/Caddyfile \
#       -e SINCH_APPLICATION_SECRET -e HMS_APP_SECRET caddy-sinch-hms
#
# The same xcaddy build command runs in .ci/run, so it cannot rot.
FROM caddy:2.11.9-builder AS builder

COPY . /src
RUN xcaddy build v2.11.9 --with github.com/hmsgate/caddy-sinch-hms=/src

FROM caddy:2.11.9

COPY --from=builder /usr/bin/caddy /usr/bin/caddy
