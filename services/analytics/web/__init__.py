"""The cockpit page: one HTML, one JS module, one CSS file, and Apache ECharts from the npm registry (no build step)."""
