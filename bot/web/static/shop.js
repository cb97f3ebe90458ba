/*! Demo shop: reports what the shopper does through the tracking snippet and keeps the
 * chat widget's page context current. A real shop makes the same calls from its own code.
 * What a page reports on load has a key (a reload within the snippet's window is the same
 * event) or the server's id (an order, an addition to the cart), so reloads add nothing. */
(function () {
  "use strict";
  var main = document.querySelector("main[data-page]");
  if (!main) return;
  var page = main.dataset;

  function track(type, fields) {
    if (window.StorefrontEvents) window.StorefrontEvents.track(type, fields);
  }
  function cents(value) {
    return Math.round(Number(value) * 100) / 100;
  }

  if (page.page === "product") {
    var productId = page.productId;
    var cart = document.getElementById("add-to-cart");
    var price = document.getElementById("price");
    var shipVariant = document.getElementById("ship-variant");
    track("product_view", {
      key: productId + "/" + page.variantId,
      product_id: productId,
      variant_id: page.variantId,
      value: cents(page.price)
    });
    cart.addEventListener("change", function (event) {
      var choice = event.target;
      if (choice.name !== "variant_id") return;
      track("variant_select", { product_id: productId, variant_id: choice.value, value: cents(choice.dataset.price) });
      if (window.StorefrontChat) window.StorefrontChat.setContext({ variant_id: choice.value });
      price.textContent = choice.dataset.priceLabel;
      shipVariant.value = choice.value;
    });
    if (page.addedId) {
      // What the server put in the cart (this page follows a successful "add to cart").
      track("add_to_cart", {
        event_id: "add_to_cart-" + page.addedId,
        product_id: productId,
        variant_id: page.addedVariantId,
        value: cents(page.addedValue),
        properties: { quantity: Number(page.addedQuantity) }
      });
    }
    var shipping = document.querySelector("[data-shipping-check]");
    if (shipping) {
      var country = shipping.dataset.shippingCheck;
      track("shipping_check", {
        key: productId + "/" + page.variantId + "/" + country,
        product_id: productId,
        variant_id: page.variantId,
        properties: { country: country }
      });
    }
  } else if (page.page === "checkout") {
    track("checkout_start", { key: page.cartValue, value: cents(page.cartValue) });
    var paying = false;
    document.addEventListener("change", function (event) {
      if (paying || event.target.name !== "payment") return;
      paying = true;
      track("payment_info", {
        key: page.cartValue + "/" + event.target.value,
        value: cents(page.cartValue),
        properties: { method: event.target.value }
      });
    });
  } else if (page.productIds) {
    track("compare", { key: page.productIds, properties: { product_ids: page.productIds.split(",") } });
  } else if (page.orderId) {
    // One purchase per order, however often the confirmation is reloaded.
    track("purchase", {
      event_id: "purchase-" + page.orderId,
      value: cents(page.orderValue),
      properties: { order_id: page.orderId }
    });
  }
})();
