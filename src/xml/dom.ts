/** DOM navigation shared by the SAML login path and the migration tools: namespace-exact, children only. */

const ELEMENT_NODE = 1;

export function isElement(node: Node | null | undefined): node is Element {
  return !!node && node.nodeType === ELEMENT_NODE;
}

export function is(el: Element | null | undefined, ns: string, localName: string): boolean {
  return !!el && el.namespaceURI === ns && el.localName === localName;
}

/** Direct element children, optionally only those with this namespace and local name. */
export function children(el: Element, ns?: string, localName?: string): Element[] {
  const out: Element[] = [];
  for (let n = el.firstChild; n; n = n.nextSibling) {
    if (!isElement(n)) continue;
    if (ns !== undefined && (n.namespaceURI !== ns || n.localName !== localName)) continue;
    out.push(n);
  }
  return out;
}
