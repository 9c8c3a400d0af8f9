// The flags every Node bench gives Dawn's create(): one list, so that every figure comes from the same Dawn setup.
//
// vulkan_enable_f16_on_nvidia: Dawn hides shader-f16 on NVIDIA's Vulkan driver (a block on the whole vendor while
// f16 CTS failures there are investigated, crbug.com/42251215), although the H200's driver has every Vulkan bit
// Dawn checks. Without it, Transformers.js refuses its fp16 exports and WebLLM its q0f16 libraries on the H200. Chrome
// on NVIDIA/Linux does not set this toggle, so a user's tab there has no shader-f16: Sieve's own f16 storage is
// packed u32 pairs read with unpack2x16float and does not need the feature. Results that use it say so.
export const DAWN_FLAGS = ['enable-dawn-features=vulkan_enable_f16_on_nvidia'];
