# (d) a Debian base and apt-get over the host network to the machine's apt mirror.
ARG BASE
ARG PACKAGE=jq
FROM ${BASE}
ARG PACKAGE
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends ${PACKAGE} \
 && rm -rf /var/lib/apt/lists/* && ${PACKAGE} --version
