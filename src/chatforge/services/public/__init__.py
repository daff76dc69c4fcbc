"""The public face of a chatbot: anonymous visitors, their tokens and sessions, allowed origins."""
