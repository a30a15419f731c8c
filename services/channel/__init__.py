"""channel (红旗渠): the complaint canal between consumers, platforms and the bureau."""
