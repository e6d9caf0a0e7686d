"""Local helpers for Bedrock Custom Model Import: Hugging Face model folders (config.json, *.safetensors, tokenizer
files with a chat template) that Bedrock's import accepts, made and used without the Hugging Face hub.

- ``tiny_model``: builds and briefly trains a tiny Llama headline classifier into such a folder (tests, demos);
- ``generate``: loads such a folder and answers Bedrock Converse-shaped requests (the local Bedrock emulator);
- ``merge_lora``: merges a PEFT LoRA adapter into its base and writes an importable folder.

Submodules import torch and transformers; importing this package does not.
"""
