"""The console: the web app where a business runs its chatbots (served at ``/``)."""
