// as-pect runs the AssemblyScript unit specs that sit beside the code they test
// (`assembly/**/__tests__/*.spec.ts`, `filters/**/__tests__/*.spec.ts`). Specs test pure
// code; proxy-wasm host imports a spec's module happens to link get a stub that answers
// NOT_FOUND (1), so a spec that needs a real host belongs in the vitest suites instead.
const NOT_FOUND = 1;

export default {
  // ASPECT_ENTRIES=glob[,glob] runs just those specs (as-pect 8.1 has no file filter).
  entries: process.env.ASPECT_ENTRIES
    ? process.env.ASPECT_ENTRIES.split(',')
    : ['assembly/**/__tests__/**/*.spec.ts', 'filters/**/__tests__/**/*.spec.ts'],
  include: ['assembly/**/__tests__/**/*.include.ts'],
  disclude: [/node_modules/],
  async instantiate(memory, createImports, instantiate, binary) {
    // Stub every function the module imports from a namespace as-pect does not provide
    // (proxy-wasm hostcalls, WASI): read the import list from the binary itself.
    const imports = createImports({ env: { memory } });
    for (const imp of WebAssembly.Module.imports(new WebAssembly.Module(binary))) {
      if (imp.kind !== 'function') continue;
      const ns = (imports[imp.module] ??= {});
      if (!(imp.name in ns)) ns[imp.name] = () => NOT_FOUND;
    }
    return instantiate(binary, imports);
  },
  outputBinary: false,
};
