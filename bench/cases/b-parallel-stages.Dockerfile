# (b) three independent stages (each hashes MB MiB of random data, then sleeps 2 s) and a final
# stage that copies one file from each. The stages differ in text so no builder can merge them.
# The size is in bytes: busybox head takes no M suffix.
ARG BASE
ARG MB=32
FROM ${BASE} AS one
ARG MB
RUN echo one > /stage && head -c $((MB * 1048576)) /dev/urandom | sha256sum > /h && sleep 2
FROM ${BASE} AS two
ARG MB
RUN echo two > /stage && head -c $((MB * 1048576)) /dev/urandom | sha256sum > /h && sleep 2
FROM ${BASE} AS three
ARG MB
RUN echo three > /stage && head -c $((MB * 1048576)) /dev/urandom | sha256sum > /h && sleep 2
FROM ${BASE}
COPY --from=one /h /h1
COPY --from=two /h /h2
COPY --from=three /h /h3
