"""The MQTT gateway: the topics and payloads of docs/MQTT_CONTRACT.md."""
