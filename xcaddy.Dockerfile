# Caddy with caddy-sinch-hms, built from this checkout:
#
#   docker build -f xcaddy.Dockerfile -t caddy-sinch-hms .
#   docker run -d --name caddy-sinch-hms \
#       -p 80:80 -p 443:443 -p 443:443/udp \
#       -v $PWD/Caddyfile:/etc/caddy/Caddyfile:ro \
#       -v $PWD/secrets:/etc/caddy/secrets:ro \
#       -e SINCH_APPLICATION_SECRET -e HMS_APP_SECRET \
#       -v caddy_data:/data -v caddy_config:/config \
#       caddy-sinch-hms
#
# Secrets reach the Caddyfile as {env.NAME} or {file./etc/caddy/secrets/NAME}
# placeholders; caddy_data and caddy_config keep Caddy's certificates and
# state across containers.
#
# The same xcaddy build command runs in .ci/run, so it cannot rot.
FROM caddy:2.11.9-builder AS builder

COPY . /src
RUN xcaddy build v2.11.9 --with github.com/hmsgate/caddy-sinch-hms=/src

FROM caddy:2.11.9

COPY --from=builder /usr/bin/caddy /usr/bin/caddy
