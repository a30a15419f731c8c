"""bridge (红盾云桥): the government–platform data bridge."""
