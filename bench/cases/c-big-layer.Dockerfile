# (c) one RUN writing MB MiB of incompressible data: layer tar + compression + push throughput.
# (g) pulls the image this builds; the memory lines rebuild it with twice the size.
ARG BASE
FROM ${BASE}
ARG MB=300
RUN head -c $((MB * 1048576)) /dev/urandom > /big
