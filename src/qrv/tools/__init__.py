"""Host tools that work on any image file or block device: mkgpt and gpt."""
