# (a) cold: COPY a 2000-file context, then a RUN that reads it. (e) and (f) rebuild this file.
ARG BASE
FROM ${BASE}
COPY . /ctx
RUN find /ctx | wc -l > /count
