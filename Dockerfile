# The ecrd image: one static binary on an empty base, run as an
# unprivileged user. The build context is prepared by scripts/docker-image
# (the binary, built with CGO_ENABLED=0, the CA certificates that S3 and
# OpenID Connect issuers over TLS need, and an empty data folder):
#
#   scripts/docker-image            # builds ecrd:dev
#   docker run -p 5000:5000 -v ecrd-data:/data ecrd:dev
#
# With --metadata and --blobs (or ECRD_METADATA and ECRD_BLOBS) the data
# folder is scratch space only; see docs/deploy.md.
FROM scratch
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --chown=65532:65532 data /data
COPY ecrd /ecrd
USER 65532:65532
ENV ECRD_DATA=/data \
    ECRD_LISTEN=0.0.0.0:5000
EXPOSE 5000
VOLUME /data
ENTRYPOINT ["/ecrd"]
CMD ["serve"]
