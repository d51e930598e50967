# Voice intake service: SIP (5060 udp/tcp, TLS on 5061), RTP (20000-29999 udp, one port
# per call: sip.rtp_port_min..sip.rtp_port_max) and HTTP (8080) in one process.
# Models and data are volumes: mount a directory holding whisper-base-ct2/ (or a Chinese
# Vosk model) at /models, and persistent storage at /data.
FROM python:3.11-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg espeak-ng \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY voice_gateway ./voice_gateway
COPY asr ./asr
COPY ivr ./ivr
COPY storage ./storage
COPY config ./config
COPY workorders ./workorders
COPY console ./console
RUN pip install --no-cache-dir . \
 && useradd --system --home /data voice \
 && mkdir -p /data /models && chown voice /data

ENV VOICE_INTAKE_DATA_DIR=/data \
    VOICE_INTAKE_MODEL_DIR=/models \
    VOICE_INTAKE_HTTP_HOST=0.0.0.0 \
    VOICE_INTAKE_SIP_HOST=0.0.0.0

VOLUME ["/data", "/models"]
EXPOSE 5060/udp 5060/tcp 5061/tcp 20000-29999/udp 8080/tcp
USER voice
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)" || exit 1
ENTRYPOINT ["voice-intake"]
CMD ["serve"]
