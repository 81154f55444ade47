"""The reference CNNs, LeNet-5 to ResNet-152: one description each, built in torch and Keras."""
