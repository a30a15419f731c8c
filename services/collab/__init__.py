"""collab (异地协作网络): assistance between regional bureaus."""
