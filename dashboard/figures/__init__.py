"""Pure figure builders: tidy data in, ``plotly.graph_objects.Figure`` out (like Plotly Express)."""
