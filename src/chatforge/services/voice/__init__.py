"""The voice agent: spoken turns, the live call and the recordings."""
