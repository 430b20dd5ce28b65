print("tetherd")
