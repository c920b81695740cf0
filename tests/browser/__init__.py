"""Real-browser helpers: JupyterLab on a free local port, driven by Playwright in Debian's Chromium."""
