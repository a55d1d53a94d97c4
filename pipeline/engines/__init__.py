"""Offline speech engines: espeak-ng TTS and PocketSphinx STT, no keys and no network."""
